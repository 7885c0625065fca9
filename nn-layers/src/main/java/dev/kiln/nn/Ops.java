package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.*;

import java.util.Arrays;

/**
 * Differentiable ops on {@link Tensor}s, each with its forward and backward side by side. Every one runs
 * through {@link Kernels#execute}, so it goes wherever dispatch sends it; nothing here knows a backend.
 */
public final class Ops {
    private Ops() {}

    /** A fresh copy (no graph). */
    public static Tensor copy(Tensor x) {
        Tensor out = Tensor.result(x.shape(), null);
        copyInto(x, out);
        return out;
    }

    /**
     * Copies {@code src} into {@code dst} (same element count) on the device, recording no graph: a pixel
     * shuffle of factor 1 is the identity permutation, so the copy runs wherever dispatch runs ops.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        if (src.count() != dst.count())
            throw new IllegalArgumentException("copy: " + src.count() + " elements into " + dst.count());
        if (src.count() == 0) return;
        Kernels.execute(new PixelShuffleDesc(1, 1, 1, Math.toIntExact(src.count()), 1, false),
                Args.of(Arg.SRC, src.buffer(), Arg.DST, dst.buffer()));
    }

    // ---- elementwise binary with broadcasting ----

    public static Tensor add(Tensor a, Tensor b) { return binary(BinaryOp.ADD, a, b); }

    public static Tensor sub(Tensor a, Tensor b) { return binary(BinaryOp.SUB, a, b); }

    public static Tensor mul(Tensor a, Tensor b) { return binary(BinaryOp.MUL, a, b); }

    public static Tensor div(Tensor a, Tensor b) { return binary(BinaryOp.DIV, a, b); }

    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Shape sa = Shape.of(a.shape()), sb = Shape.of(b.shape());
        BinaryDesc fwd = new BinaryDesc(op, sa, sb);
        Tensor out = Tensor.result(fwd.out().dims(), g -> {
            BinaryDesc bwd = new BinaryDesc(op, sa, sb, Pass.BACKWARD);
            Tensor da = Tensor.empty(a.shape()), db = Tensor.empty(b.shape());
            Kernels.execute(bwd, Args.of(Arg.SRC, a.buffer(), Arg.SRC2, b.buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, da.buffer())
                    .put(Arg.DIFF_SRC2, db.buffer()));
            a.accumulate(da);
            b.accumulate(db);
        }, a, b);
        Kernels.execute(fwd, Args.of(Arg.SRC, a.buffer(), Arg.SRC2, b.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** x * s for a constant s (no gradient to s). */
    public static Tensor scale(Tensor x, float s) {
        Tensor c = Tensor.of(new float[] {s}, 1);
        return mul(x, c);
    }

    // ---- elementwise unary ----

    public static Tensor relu(Tensor x) { return unary(UnaryOp.RELU, x); }

    public static Tensor gelu(Tensor x) { return unary(UnaryOp.GELU, x); }

    public static Tensor silu(Tensor x) { return unary(UnaryOp.SILU, x); }

    public static Tensor sigmoid(Tensor x) { return unary(UnaryOp.SIGMOID, x); }

    public static Tensor tanh(Tensor x) { return unary(UnaryOp.TANH, x); }

    public static Tensor unary(UnaryOp op, Tensor x) {
        Tensor out = Tensor.result(x.shape(), g -> {
            Tensor dx = Tensor.empty(x.shape());
            Kernels.execute(new UnaryDesc(op, x.count(), Pass.BACKWARD),
                    Args.of(Arg.SRC, x.buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        Kernels.execute(new UnaryDesc(op, x.count()), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    // ---- matrix products ----

    /** a (m x k) times b (k x n). */
    public static Tensor matmul(Tensor a, Tensor b) {
        requireRank("matmul", a, 2);
        requireRank("matmul", b, 2);
        int m = a.dim(0), k = a.dim(1), n = b.dim(1);
        if (b.dim(0) != k)
            throw new IllegalArgumentException("matmul: shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape())
                    + " do not chain (inner dimensions " + k + " vs " + b.dim(0) + ")");
        Tensor out = Tensor.result(new int[] {m, n}, g -> {
            if (a.requiresGrad()) a.accumulate(gemm(g, Transpose.N, b, Transpose.T, m, k, n, null));   // dA = G B^T
            if (b.requiresGrad()) b.accumulate(gemm(a, Transpose.T, g, Transpose.N, k, n, m, null));   // dB = A^T G
        }, a, b);
        gemmInto(a, Transpose.N, b, Transpose.N, m, n, k, null, out);
        return out;
    }

    /** x (m x in) times w^T (w is out x in, a Linear layer's layout) plus bias (out), fused into the GEMM. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        requireRank("linear", x, 2);
        requireRank("linear", w, 2);
        int m = x.dim(0), in = x.dim(1), outF = w.dim(0);
        if (w.dim(1) != in)
            throw new IllegalArgumentException("linear: input has " + in + " features but the weight is " + Arrays.toString(w.shape())
                    + " (out x in)");
        if (bias != null && bias.count() != outF)
            throw new IllegalArgumentException("linear: bias has " + bias.count() + " elements, expected " + outF);
        Tensor out = Tensor.result(new int[] {m, outF}, g -> {
            if (x.requiresGrad()) x.accumulate(gemm(g, Transpose.N, w, Transpose.N, m, in, outF, null));   // dX = G W
            if (w.requiresGrad()) w.accumulate(gemm(g, Transpose.T, x, Transpose.N, outF, in, m, null));   // dW = G^T X
            if (bias != null && bias.requiresGrad()) bias.accumulate(sumRows(g));
        }, bias == null ? new Tensor[] {x, w} : new Tensor[] {x, w, bias});
        gemmInto(x, Transpose.N, w, Transpose.T, m, outF, in, bias, out);
        return out;
    }

    private static Tensor gemm(Tensor a, Transpose ta, Tensor b, Transpose tb, int m, int n, int k, Tensor bias) {
        Tensor out = Tensor.empty(m, n);
        gemmInto(a, ta, b, tb, m, n, k, bias, out);
        return out;
    }

    private static void gemmInto(Tensor a, Transpose ta, Tensor b, Transpose tb, int m, int n, int k, Tensor bias, Tensor out) {
        GemmDesc d = GemmDesc.of(dev.kiln.kernels.DType.F32, ta, tb, m, n, k, 1, 0).withEpilogue(bias != null, Activation.NONE);
        Args args = Args.of(Arg.A, a.buffer(), Arg.B, b.buffer(), Arg.C, out.buffer());
        if (bias != null) args.put(Arg.BIAS, bias.buffer());
        Kernels.execute(d, args);
    }

    /** Column sums of an m x n matrix: a vector of n (no graph; used by backward passes). */
    static Tensor sumRows(Tensor g) {
        int m = g.dim(0), n = Math.toIntExact(g.count() / m);
        Tensor out = Tensor.empty(n);
        Kernels.execute(new ReduceDesc(ReduceOp.SUM, 1, m, n), Args.of(Arg.SRC, g.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    // ---- reductions ----

    /** Sum of all elements, a scalar. */
    public static Tensor sum(Tensor x) { return reduceAll(ReduceOp.SUM, x); }

    /** Mean of all elements, a scalar. */
    public static Tensor mean(Tensor x) { return reduceAll(ReduceOp.MEAN, x); }

    private static Tensor reduceAll(ReduceOp op, Tensor x) {
        int n = Math.toIntExact(x.count());
        Tensor out = Tensor.result(new int[] {1}, g -> {
            // d(sum)/dx = 1, d(mean)/dx = 1/n: broadcast the scalar gradient over x's shape.
            float scale = op == ReduceOp.MEAN ? 1f / n : 1f;
            Tensor ones = Tensor.of(filled(n, scale), x.shape());
            x.accumulate(mul(ones, g));
        }, x);
        Kernels.execute(new ReduceDesc(op, 1, n, 1), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    static void requireRank(String op, Tensor t, int rank) {
        if (t.rank() != rank)
            throw new IllegalArgumentException(op + ": expected a rank-" + rank + " tensor, got shape " + Arrays.toString(t.shape()));
    }
}
