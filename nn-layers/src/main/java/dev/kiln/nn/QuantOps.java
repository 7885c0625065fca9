package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.Shape;

import java.util.Arrays;

/**
 * Differentiable fake quantisation for quantisation-aware training, forward and backward side by side.
 * Scales come in blocks: element {@code i} of the tensor uses {@code scales[i / block]}, so one scale for
 * the whole tensor is {@code block = count}, one per output channel of a row-major weight is
 * {@code block = fan-in}, and one per group of 32 along each row is {@code block = 32}. (The forward views
 * the tensor as {@code scales.length x block} and quantises it per row with the kernels' fake-quantise op,
 * {@link QuantizeDesc}, so it runs wherever dispatch sends it.)
 *
 * <p>Scales are plain numbers, not trained: the caller derives them (from the weights, or from an observed
 * activation range), so no gradient flows to them. The backward masks are computed on the host from the
 * saved input (one download and one upload).
 */
public final class QuantOps {
    private QuantOps() {}

    /** The integer range of a quantised type here: s8 and s4 symmetric ([-127, 127], [-7, 7]), u8 [0, 255] (zero point 0). */
    public static int qmin(DType qtype) { return switch (qtype) { case S8 -> -127; case S4 -> -7; case U8 -> 0; default -> throw unsupported(qtype); }; }

    public static int qmax(DType qtype) { return switch (qtype) { case S8 -> 127; case S4 -> 7; case U8 -> 255; default -> throw unsupported(qtype); }; }

    private static IllegalArgumentException unsupported(DType t) {
        return new IllegalArgumentException("fake_quantize: type " + t.lower() + " is not s8, u8 or s4");
    }

    /**
     * {@code clamp(rint(x / s), qmin, qmax) * s} (round half to even; the range of {@code qtype} from
     * {@link #qmin}, {@link #qmax}), with the straight-through estimator: the gradient passes unchanged
     * where the rounded code {@code rint(x / s)} lies in {@code [qmin, qmax]} and is zero where the value
     * was clipped.
     */
    public static Tensor fakeQuantize(Tensor x, float[] scales, int block, DType qtype) {
        checkBlocks("fake_quantize", x, scales, block);
        int qmin = qmin(qtype), qmax = qmax(qtype);
        Tensor out = Tensor.result(x.shape(), g -> {
            float[] gv = g.toArray(), xv = x.toArray();
            for (int i = 0; i < gv.length; i++) {
                float q = (float) Math.rint(xv[i] / scales[i / block]);
                if (!(q >= qmin && q <= qmax)) gv[i] = 0;
            }
            x.accumulate(Tensor.of(gv, x.shape()));
        }, x);
        QuantizeDesc d = QuantizeDesc.of(QuantizeDesc.Mode.FAKE, qtype, Shape.of(scales.length, block)).perChannel(0)
                .withComputedScales(false);
        run(d, x, out, scales);
        return out;
    }

    private static void run(QuantizeDesc d, Tensor x, Tensor out, float[] scales) {
        Tensor s = Tensor.of(scales, scales.length);
        Args args = Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer(), Arg.SCALES, s.buffer());
        if (!d.symmetric()) {
            // u8: the asymmetric form with every zero point 0, i.e. the unsigned grid [0, 255] on the same scale.
            try (var z = Devices.current().allocate(DType.S32, scales.length)) {
                z.copyFrom(new int[scales.length]);
                args.put(Arg.ZERO_POINTS, z);
                Exec.run(d, args);
            }
        } else {
            Exec.run(d, args);
        }
        s.close();
    }

    /** The integer code of {@code x}: {@code clamp(rint(x / s), qmin, qmax)}, as {@link #fakeQuantize} forms it. */
    public static int quantize(float x, float scale, int qmin, int qmax) {
        float q = (float) Math.rint(x / scale);
        return (int) Math.max(qmin, Math.min(qmax, q));
    }

    /**
     * The rectified straight-through estimator's settings (Wu et al. 2023, ICCV): the backward pass treats
     * {@code sign(u)} as the power function {@code sign(u) |u|^(1/o)}, whose derivative
     * {@code (1/o) |u|^(1/o - 1)} is capped at {@code maxGradient} (it is unbounded at 0 for o &gt; 1) and
     * is zero where {@code |u| > threshold}. {@code o = 1} is the plain clipped straight-through estimator;
     * raising o during training moves the estimator towards the true sign.
     */
    public record ReSTE(double o, double threshold, double maxGradient) {
        public ReSTE {
            if (!(o >= 1) || !(threshold > 0) || !(maxGradient > 0))
                throw new IllegalArgumentException("reste: need o >= 1, threshold > 0 and maxGradient > 0, got o=" + o
                        + " threshold=" + threshold + " maxGradient=" + maxGradient);
        }

        /** The backward factor at {@code u}. */
        public double gradient(double u) {
            double a = Math.abs(u);
            if (a > threshold) return 0;
            if (o == 1) return 1;
            return a == 0 ? maxGradient : Math.min(maxGradient, Math.pow(a, 1 / o - 1) / o);
        }
    }

    /**
     * Binarisation {@code y = s * sign(x - shift)} with sign(0) = +1 (a code bit is {@code x >= shift}),
     * and the {@link ReSTE} backward applied to {@code u = (x - shift) / s}: since {@code y ~ s f_o(u)} and
     * {@code du/dx = 1/s}, the gradient to x is {@code g * f_o'(u)}, independent of the scale.
     */
    public static Tensor binarize(Tensor x, float[] scales, int block, float shift, ReSTE estimator) {
        checkBlocks("binarize", x, scales, block);
        if (!Float.isFinite(shift)) throw new IllegalArgumentException("binarize: shift is " + shift);
        Tensor out = Tensor.result(x.shape(), g -> {
            float[] gv = g.toArray(), xv = x.toArray();
            for (int i = 0; i < gv.length; i++)
                gv[i] = (float) (gv[i] * estimator.gradient((xv[i] - shift) / scales[i / block]));
            x.accumulate(Tensor.of(gv, x.shape()));
        }, x);
        Tensor centred = x;
        if (shift != 0) {
            // x - shift >= 0 exactly when x >= shift (a difference of distinct floats is never 0).
            centred = Tensor.empty(x.shape());
            Tensor s = Tensor.of(new float[] {shift}, 1);
            Exec.run(new BinaryDesc(BinaryOp.SUB, Shape.of(Math.toIntExact(x.count())), Shape.of(1)),
                    Args.of(Arg.SRC, x.buffer(), Arg.SRC2, s.buffer(), Arg.DST, centred.buffer()));
            s.close();
        }
        run(QuantizeDesc.of(QuantizeDesc.Mode.FAKE, DType.B1, Shape.of(scales.length, block)).perChannel(0).withComputedScales(false),
                centred, out, scales);
        if (centred != x) centred.close();
        return out;
    }

    private static void checkBlocks(String op, Tensor x, float[] scales, int block) {
        if (block <= 0 || (long) scales.length * block != x.count())
            throw new IllegalArgumentException(op + ": " + scales.length + " scales of block " + block + " do not cover the "
                    + x.count() + " elements of " + Arrays.toString(x.shape()));
        for (int i = 0; i < scales.length; i++)
            if (!(scales[i] > 0) || !Float.isFinite(scales[i]))
                throw new IllegalArgumentException(op + ": scale " + i + " is " + scales[i] + ", expected a finite value > 0");
    }
}
