package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.desc.PoolDesc;

import java.util.Arrays;

/** Convolution and pooling on NCHW tensors, forward and backward side by side. */
public final class ConvOps {
    private ConvOps() {}

    /**
     * 2D convolution: x is n x c x h x w, w is k x c/groups x r x s, bias (k) may be null.
     */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pad, int dilation, int groups) {
        Ops.requireRank("conv2d", x, 4);
        Ops.requireRank("conv2d", w, 4);
        if (w.dim(1) * groups != x.dim(1))
            throw new IllegalArgumentException("conv2d: input has " + x.dim(1) + " channels but the weight " + Arrays.toString(w.shape())
                    + " with groups=" + groups + " expects " + w.dim(1) * groups);
        ConvDesc fwd = new ConvDesc(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), stride, stride, pad, pad,
                dilation, dilation, groups, false, 0, 0, ConvPass.FORWARD, bias != null, x.dtype());
        return convolved(fwd, x, w, bias);
    }

    /**
     * 1D convolution: x is n x c x length, w is k x c/groups x kernel, bias (k) may be null; output n x k x q
     * with q = (length + 2 pad - dilation (kernel-1) - 1) / stride + 1. It is the 2D convolution of height 1
     * (the descriptor's 1D form), so it runs on every backend's convolution kernels.
     */
    public static Tensor conv1d(Tensor x, Tensor w, Tensor bias, int stride, int pad, int dilation, int groups) {
        Ops.requireRank("conv1d", x, 3);
        Ops.requireRank("conv1d", w, 3);
        if (w.dim(1) * groups != x.dim(1))
            throw new IllegalArgumentException("conv1d: input has " + x.dim(1) + " channels but the weight " + Arrays.toString(w.shape())
                    + " with groups=" + groups + " expects " + w.dim(1) * groups);
        ConvDesc fwd = new ConvDesc(x.dim(0), x.dim(1), 1, x.dim(2), w.dim(0), 1, w.dim(2), 1, stride, 0, pad, 1, dilation, groups,
                false, 0, 0, ConvPass.FORWARD, bias != null, x.dtype());
        Tensor out = convolved(fwd, x.reshape(x.dim(0), x.dim(1), 1, x.dim(2)), w.reshape(w.dim(0), w.dim(1), 1, w.dim(2)), bias);
        return out.reshape(fwd.n(), fwd.k(), fwd.q());
    }

    /**
     * Transposed 2D convolution (the gradient of conv2d with respect to its input): x is n x c x h x w, w is
     * c x k/groups x r x s, bias (k) may be null; output n x k x p x q with p = (h-1) stride - 2 pad + r + outPad.
     */
    public static Tensor convTranspose2d(Tensor x, Tensor w, Tensor bias, int stride, int pad, int outPad, int groups) {
        Ops.requireRank("conv_transpose2d", x, 4);
        Ops.requireRank("conv_transpose2d", w, 4);
        if (w.dim(0) != x.dim(1))
            throw new IllegalArgumentException("conv_transpose2d: input has " + x.dim(1) + " channels but the weight "
                    + Arrays.toString(w.shape()) + " expects " + w.dim(0) + " (weights are in x out/groups x r x s)");
        ConvDesc fwd = new ConvDesc(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(1) * groups, w.dim(2), w.dim(3), stride, stride,
                pad, pad, 1, 1, groups, true, outPad, outPad, ConvPass.FORWARD, bias != null, x.dtype());
        return convolved(fwd, x, w, bias);
    }

    /** Runs a forward convolution descriptor and records the backward passes it implies. */
    private static Tensor convolved(ConvDesc fwd, Tensor x, Tensor w, Tensor bias) {
        Ops.requireSameDType(fwd.opName(), x, w);
        if (bias != null) Ops.requireSameDType(fwd.opName(), x, bias);
        Tensor out = Tensor.result(new int[] {fwd.n(), fwd.k(), fwd.p(), fwd.q()}, g -> {
            if (x.requiresGrad()) {
                Tensor dx = Tensor.like(x);
                Exec.run(fwd.withPass(ConvPass.BACKWARD_DATA),
                        Args.of(Arg.DIFF_DST, g.buffer(), Arg.WEIGHTS, w.buffer(), Arg.DIFF_SRC, dx.buffer()));
                x.accumulate(dx);
            }
            boolean wantBias = bias != null && bias.requiresGrad();
            if (w.requiresGrad() || wantBias) {
                Tensor dw = Tensor.like(w);
                Tensor db = wantBias ? Tensor.like(bias) : null;
                Args a = Args.of(Arg.SRC, x.buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_WEIGHTS, dw.buffer());
                if (wantBias) a.put(Arg.DIFF_BIAS, db.buffer());
                Exec.run(fwd.withPass(ConvPass.BACKWARD_WEIGHTS).withBias(wantBias), a);
                w.accumulate(dw);
                if (wantBias) bias.accumulate(db);
            }
        }, bias == null ? new Tensor[] {x, w} : new Tensor[] {x, w, bias});
        Args a = Args.of(Arg.SRC, x.buffer(), Arg.WEIGHTS, w.buffer(), Arg.DST, out.buffer());
        if (bias != null) a.put(Arg.BIAS, bias.buffer());
        Exec.run(fwd, a);
        return out;
    }

    /** Pixel shuffle by {@code factor} (n x c x h x w to n x c/f^2 x hf x wf); its gradient is the unshuffle. */
    public static Tensor pixelShuffle(Tensor x, int factor) { return shuffled(x, factor, false); }

    /** The inverse of {@link #pixelShuffle}: n x c x h x w to n x c f^2 x h/f x w/f. */
    public static Tensor pixelUnshuffle(Tensor x, int factor) { return shuffled(x, factor, true); }

    private static Tensor shuffled(Tensor x, int factor, boolean unshuffle) {
        Ops.requireRank(unshuffle ? "pixel_unshuffle" : "pixel_shuffle", x, 4);
        PixelShuffleDesc fwd = new PixelShuffleDesc(x.dim(0), x.dim(1), x.dim(2), x.dim(3), factor, unshuffle, x.dtype());
        int f2 = factor * factor;
        int[] shape = unshuffle ? new int[] {x.dim(0), x.dim(1) * f2, x.dim(2) / factor, x.dim(3) / factor}
                                : new int[] {x.dim(0), x.dim(1) / f2, x.dim(2) * factor, x.dim(3) * factor};
        Tensor out = Tensor.result(shape, g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(new PixelShuffleDesc(shape[0], shape[1], shape[2], shape[3], factor, !unshuffle, x.dtype()),
                    Args.of(Arg.SRC, g.buffer(), Arg.DST, dx.buffer()));
            x.accumulate(dx);
        }, x);
        Exec.run(fwd, Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** Max pooling with a square window. */
    public static Tensor maxPool2d(Tensor x, int window, int stride, int pad) {
        Ops.requireRank("max_pool2d", x, 4);
        PoolDesc fwd = PoolDesc.of(PoolDesc.PoolKind.MAX, x.dim(0), x.dim(1), x.dim(2), x.dim(3), window, stride, pad)
                .withDType(x.dtype());
        if ((NoGrad.active() || !x.requiresGrad()) && withoutIndices(fwd.withoutIndices())) {
            // no backward will read the argmax (evaluation): the kernel writes the maxima alone
            Tensor out = Tensor.result(new int[] {fwd.n(), fwd.c(), fwd.p(), fwd.q()}, null, x);
            Exec.run(fwd.withoutIndices(), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
            return out;
        }
        // The argmax indices live as long as the output, which closes them: they are what its backward needs.
        dev.kiln.kernels.spi.DeviceBuffer[] indices = new dev.kiln.kernels.spi.DeviceBuffer[1];
        Tensor out = Tensor.result(new int[] {fwd.n(), fwd.c(), fwd.p(), fwd.q()}, g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(fwd.withPass(Pass.BACKWARD),
                    Args.of(Arg.DIFF_DST, g.buffer(), Arg.INDICES, indices[0], Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        indices[0] = out.attach(Devices.current().allocate(dev.kiln.kernels.DType.S32, fwd.dstCount()));
        Exec.run(fwd, Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer(), Arg.INDICES, indices[0]));
        return out;
    }

    /**
     * Whether the device tensors live on runs {@code noIndices} itself (every CPU kernel does; a backend whose kernel
     * always writes the indices declines it, and then the call keeps them rather than leave that device).
     */
    private static boolean withoutIndices(PoolDesc noIndices) {
        for (var impl : Devices.current().implementations(noIndices.kind())) if (impl.supports(noIndices).ok()) return true;
        return false;
    }

    /** Average pooling with a square window (padding not counted). */
    public static Tensor avgPool2d(Tensor x, int window, int stride, int pad) {
        Ops.requireRank("avg_pool2d", x, 4);
        PoolDesc fwd = PoolDesc.of(PoolDesc.PoolKind.AVG, x.dim(0), x.dim(1), x.dim(2), x.dim(3), window, stride, pad)
                .withDType(x.dtype());
        Tensor out = Tensor.result(new int[] {fwd.n(), fwd.c(), fwd.p(), fwd.q()}, g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(fwd.withPass(Pass.BACKWARD), Args.of(Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        Exec.run(fwd, Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** Global average pooling: n x c x h x w to n x c. */
    public static Tensor globalAvgPool(Tensor x) {
        Ops.requireRank("global_avg_pool", x, 4);
        PoolDesc fwd = new PoolDesc(PoolDesc.PoolKind.AVG, x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dim(2), x.dim(3), 1, 1, 0, 0,
                false, Pass.FORWARD, x.dtype());
        Tensor out = Tensor.result(new int[] {x.dim(0), x.dim(1)}, g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(fwd.withPass(Pass.BACKWARD), Args.of(Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        Exec.run(fwd, Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }
}
