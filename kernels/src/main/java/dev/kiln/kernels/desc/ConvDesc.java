package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.ArrayList;
import java.util.List;

/**
 * 2D convolution (1D is h = 1, r = 1), f32 (or f64), NCHW. The input has n x c x h x w elements, the output
 * n x k x p x q.
 * <ul>
 * <li>Regular: weights are k x (c/groups) x r x s; p = (h + 2 padH - dilH (r-1) - 1) / strideH + 1.</li>
 * <li>Transposed ({@code transposed}): the gradient of a regular convolution with respect to its input;
 *     weights are c x (k/groups) x r x s; p = (h-1) strideH - 2 padH + dilH (r-1) + outPadH + 1.</li>
 * </ul>
 * Passes: {@code FORWARD} reads SRC, WEIGHTS (and BIAS, k elements) and writes DST; {@code BACKWARD_DATA}
 * reads DIFF_DST, WEIGHTS and writes DIFF_SRC; {@code BACKWARD_WEIGHTS} reads SRC, DIFF_DST and writes
 * DIFF_WEIGHTS (and DIFF_BIAS when {@code bias}). Backward passes overwrite their outputs.
 */
public record ConvDesc(int n, int c, int h, int w, int k, int r, int s,
                       int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
                       int groups, boolean transposed, int outPadH, int outPadW,
                       ConvPass pass, boolean bias, DType dtype) implements OpDesc {

    public enum ConvPass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    public ConvDesc {
        String op = transposed ? "conv_transpose" : "conv";
        Check.notNull(op, "pass", pass);
        Check.f32OrF64(op, dtype);
        Check.positive(op, "n", n);
        Check.positive(op, "c", c);
        Check.positive(op, "h", h);
        Check.positive(op, "w", w);
        Check.positive(op, "k", k);
        Check.positive(op, "r", r);
        Check.positive(op, "s", s);
        Check.positive(op, "strideH", strideH);
        Check.positive(op, "strideW", strideW);
        Check.nonNegative(op, "padH", padH);
        Check.nonNegative(op, "padW", padW);
        Check.positive(op, "dilationH", dilationH);
        Check.positive(op, "dilationW", dilationW);
        Check.positive(op, "groups", groups);
        Check.that(c % groups == 0 && k % groups == 0, op,
                "groups=" + groups + " must divide c=" + c + " and k=" + k);
        Check.nonNegative(op, "outPadH", outPadH);
        Check.nonNegative(op, "outPadW", outPadW);
        Check.that(transposed || (outPadH == 0 && outPadW == 0), op, "output padding needs a transposed convolution");
        Check.that(!transposed || (outPadH < Math.max(strideH, dilationH) && outPadW < Math.max(strideW, dilationW)), op,
                "output padding (" + outPadH + "," + outPadW + ") must be smaller than stride or dilation");
        Check.that(pass != ConvPass.BACKWARD_DATA || !bias, op, "backward-data takes no bias");
        long p = outSize(h, r, strideH, padH, dilationH, outPadH, transposed);
        long q = outSize(w, s, strideW, padW, dilationW, outPadW, transposed);
        Check.that(p > 0 && q > 0, op, "output would be " + p + " x " + q + " for input " + h + " x " + w
                + ", kernel " + r + " x " + s + ", stride " + strideH + "," + strideW + ", pad " + padH + "," + padW
                + ", dilation " + dilationH + "," + dilationW);
        Check.toInt(op, "output height p", p);
        Check.toInt(op, "output width q", q);
        Check.mul(op, n, Math.max(c, k), Math.max((long) h * w, p * q));
        Check.mul(op, Math.max(c, k), Math.max(c, k), (long) r * s);
    }

    /** The descriptor in f32, the element type every backend implements. */
    public ConvDesc(int n, int c, int h, int w, int k, int r, int s, int strideH, int strideW, int padH, int padW,
                    int dilationH, int dilationW, int groups, boolean transposed, int outPadH, int outPadW, ConvPass pass, boolean bias) {
        this(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed, outPadH, outPadW, pass, bias,
                DType.F32);
    }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public ConvDesc withDType(DType dtype) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed,
                outPadH, outPadW, pass, bias, dtype);
    }

    private static long outSize(long in, long kernel, long stride, long pad, long dil, long outPad, boolean transposed) {
        return transposed ? (in - 1) * stride - 2 * pad + dil * (kernel - 1) + outPad + 1
                          : Math.floorDiv(in + 2 * pad - dil * (kernel - 1) - 1, stride) + 1;
    }

    /** A plain forward 2D convolution: square stride and padding, no dilation, one group, no bias. */
    public static ConvDesc conv2d(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
        return new ConvDesc(n, c, h, w, k, r, s, stride, stride, pad, pad, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false);
    }

    /** A forward 1D convolution over length {@code len}. */
    public static ConvDesc conv1d(int n, int c, int len, int k, int kernel, int stride, int pad, int dilation, int groups) {
        return new ConvDesc(n, c, 1, len, k, 1, kernel, 1, stride, 0, pad, 1, dilation, groups, false, 0, 0, ConvPass.FORWARD, false);
    }

    public ConvDesc withPass(ConvPass pass) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed,
                outPadH, outPadW, pass, pass != ConvPass.BACKWARD_DATA && bias, dtype);
    }

    public ConvDesc withBias(boolean bias) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed,
                outPadH, outPadW, pass, bias, dtype);
    }

    public ConvDesc withGroups(int groups) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed,
                outPadH, outPadW, pass, bias, dtype);
    }

    public ConvDesc withDilation(int dilationH, int dilationW) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, transposed,
                outPadH, outPadW, pass, bias, dtype);
    }

    public ConvDesc asTransposed(int outPadH, int outPadW) {
        return new ConvDesc(n, c, h, w, k, r, s, strideH, strideW, padH, padW, dilationH, dilationW, groups, true,
                outPadH, outPadW, pass, bias, dtype);
    }

    public int p() { return (int) outSize(h, r, strideH, padH, dilationH, outPadH, transposed); }

    public int q() { return (int) outSize(w, s, strideW, padW, dilationW, outPadW, transposed); }

    public boolean isDepthwise() { return !transposed && groups == c && groups > 1; }

    public long srcCount() { return (long) n * c * h * w; }

    public long dstCount() { return (long) n * k * p() * q(); }

    /** Regular: k x c/groups x r x s. Transposed: c x k/groups x r x s. */
    public long weightCount() { return transposed ? (long) c * (k / groups) * r * s : (long) k * (c / groups) * r * s; }

    @Override public OpKind kind() { return OpKind.CONV; }

    @Override public List<ArgSpec> args() {
        DType f = dtype;
        String src = "n*c*h*w=" + n + "*" + c + "*" + h + "*" + w;
        String dst = "n*k*p*q=" + n + "*" + k + "*" + p() + "*" + q();
        String wt = transposed ? "c*(k/groups)*r*s" : "k*(c/groups)*r*s";
        List<ArgSpec> list = new ArrayList<>(4);
        switch (pass) {
            case FORWARD -> {
                list.add(ArgSpec.in(Arg.SRC, f, srcCount(), src));
                list.add(ArgSpec.in(Arg.WEIGHTS, f, weightCount(), wt));
                if (bias) list.add(ArgSpec.in(Arg.BIAS, f, k, "k=" + k));
                list.add(ArgSpec.out(Arg.DST, f, dstCount(), dst));
            }
            case BACKWARD_DATA -> {
                list.add(ArgSpec.in(Arg.DIFF_DST, f, dstCount(), dst));
                list.add(ArgSpec.in(Arg.WEIGHTS, f, weightCount(), wt));
                list.add(ArgSpec.out(Arg.DIFF_SRC, f, srcCount(), src));
            }
            case BACKWARD_WEIGHTS -> {
                list.add(ArgSpec.in(Arg.SRC, f, srcCount(), src));
                list.add(ArgSpec.in(Arg.DIFF_DST, f, dstCount(), dst));
                list.add(ArgSpec.out(Arg.DIFF_WEIGHTS, f, weightCount(), wt));
                if (bias) list.add(ArgSpec.out(Arg.DIFF_BIAS, f, k, "k=" + k));
            }
        }
        return List.copyOf(list);
    }

    /** Multiply-adds of the forward pass; each pass does the same number. */
    @Override public double flops() {
        double macs = transposed ? (double) n * c * h * w * (k / groups) * r * s
                                 : (double) n * k * p() * q() * (c / groups) * r * s;
        return 2 * macs;
    }

    @Override public String opName() {
        String base = transposed ? "conv_transpose" : isDepthwise() ? "conv.depthwise" : "conv";
        return base + switch (pass) { case FORWARD -> ""; case BACKWARD_DATA -> ".bwd-data"; case BACKWARD_WEIGHTS -> ".bwd-weights"; };
    }

    @Override public String shape() {
        return n + "x" + c + "x" + h + "x" + w + " k=" + k + " " + r + "x" + s + " stride=" + strideH + "," + strideW
                + " pad=" + padH + "," + padW + (dilationH * dilationW > 1 ? " dil=" + dilationH + "," + dilationW : "")
                + (groups > 1 ? " groups=" + groups : "") + (bias ? " bias" : "");
    }
}
