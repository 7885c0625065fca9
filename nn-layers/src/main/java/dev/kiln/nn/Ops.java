package dev.kiln.nn;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.*;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.Device;

import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Differentiable ops on {@link Tensor}s, each with its forward and backward side by side. Every one runs
 * through {@link Kernels#execute}, so it goes wherever dispatch sends it; nothing here knows a backend.
 */
public final class Ops {
    private Ops() {}

    /** A fresh copy (no graph). */
    public static Tensor copy(Tensor x) {
        Tensor out = Tensor.result(x.dtype(), x.shape(), null);
        copyInto(x, out);
        return out;
    }

    /**
     * Copies {@code src} into {@code dst} (same element count) on the device, recording no graph. The copy
     * is a multiplication by a cached 1 (exact for every float), because the elementwise kernels are the
     * vectorised ones on every backend; a pixel shuffle of factor 1 would do, but runs on reference code.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        if (src.count() != dst.count())
            throw new IllegalArgumentException("copy: " + src.count() + " elements into " + dst.count());
        if (src.dtype() != dst.dtype())
            throw new IllegalArgumentException("copy: " + src.dtype().lower() + " into " + dst.dtype().lower());
        if (src.count() == 0) return;
        Exec.run(new BinaryDesc(BinaryOp.MUL, Shape.of(Math.toIntExact(src.count())), Shape.of(1)).withDType(src.dtype()),
                Args.of(Arg.SRC, src.buffer(), Arg.SRC2, one(src.dtype()).buffer(), Arg.DST, dst.buffer()));
    }

    private static final Map<Device, Map<DType, Tensor>> ONES = Collections.synchronizedMap(new IdentityHashMap<>());

    /** A 1 of {@code dtype} on the current device, made once and kept for the life of the process. */
    private static Tensor one(DType dtype) {
        return ONES.computeIfAbsent(Devices.current(), d -> Collections.synchronizedMap(new EnumMap<>(DType.class)))
                .computeIfAbsent(dtype, t -> Tensor.of(t, new float[] {1}, 1).keep());
    }

    /** A one-element constant of {@code like}'s dtype (no graph), for scaling and offsets. */
    static Tensor constant(Tensor like, double value) {
        Tensor c = Tensor.empty(like.dtype(), 1);
        c.set(new double[] {value});
        return c;
    }

    // ---- elementwise binary with broadcasting ----

    public static Tensor add(Tensor a, Tensor b) { return binary(BinaryOp.ADD, a, b); }

    public static Tensor sub(Tensor a, Tensor b) { return binary(BinaryOp.SUB, a, b); }

    public static Tensor mul(Tensor a, Tensor b) { return binary(BinaryOp.MUL, a, b); }

    public static Tensor div(Tensor a, Tensor b) { return binary(BinaryOp.DIV, a, b); }

    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Shape sa = Shape.of(a.shape()), sb = Shape.of(b.shape());
        requireSameDType(op.lower(), a, b);
        BinaryDesc fwd = new BinaryDesc(op, sa, sb).withDType(a.dtype());
        Tensor out = Tensor.result(fwd.out().dims(), g -> {
            BinaryDesc bwd = new BinaryDesc(op, sa, sb, Pass.BACKWARD, a.dtype());
            Tensor da = Tensor.like(a), db = Tensor.like(b);
            Exec.run(bwd, Args.of(Arg.SRC, a.buffer(), Arg.SRC2, b.buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, da.buffer())
                    .put(Arg.DIFF_SRC2, db.buffer()));
            a.accumulate(da);
            b.accumulate(db);
        }, a, b);
        Exec.run(fwd, Args.of(Arg.SRC, a.buffer(), Arg.SRC2, b.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** x * s for a constant s (no gradient to s). */
    public static Tensor scale(Tensor x, float s) {
        return mul(x, constant(x, s));
    }

    // ---- elementwise unary ----

    public static Tensor relu(Tensor x) { return unary(UnaryOp.RELU, x); }

    public static Tensor gelu(Tensor x) { return unary(UnaryOp.GELU, x); }

    public static Tensor silu(Tensor x) { return unary(UnaryOp.SILU, x); }

    public static Tensor sigmoid(Tensor x) { return unary(UnaryOp.SIGMOID, x); }

    public static Tensor tanh(Tensor x) { return unary(UnaryOp.TANH, x); }

    public static Tensor sqrt(Tensor x) { return unary(UnaryOp.SQRT, x); }

    public static Tensor exp(Tensor x) { return unary(UnaryOp.EXP, x); }

    public static Tensor unary(UnaryOp op, Tensor x) {
        Tensor out = Tensor.result(x.shape(), g -> {
            Tensor dx = Tensor.like(x);
            Exec.run(new UnaryDesc(op, x.count(), Pass.BACKWARD, x.dtype()),
                    Args.of(Arg.SRC, x.buffer(), Arg.DIFF_DST, g.buffer(), Arg.DIFF_SRC, dx.buffer()));
            x.accumulate(dx);
        }, x);
        Exec.run(new UnaryDesc(op, x.count(), Pass.FORWARD, x.dtype()), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    // ---- matrix products ----

    /** a (m x k) times b (k x n). */
    public static Tensor matmul(Tensor a, Tensor b) {
        requireRank("matmul", a, 2);
        requireRank("matmul", b, 2);
        requireSameDType("matmul", a, b);
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
        requireSameDType("linear", x, w);
        if (bias != null) requireSameDType("linear", x, bias);
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
        Tensor out = Tensor.empty(a.dtype(), m, n);
        gemmInto(a, ta, b, tb, m, n, k, bias, out);
        return out;
    }

    private static void gemmInto(Tensor a, Transpose ta, Tensor b, Transpose tb, int m, int n, int k, Tensor bias, Tensor out) {
        GemmDesc d = GemmDesc.of(a.dtype(), ta, tb, m, n, k, 1, 0).withEpilogue(bias != null, Activation.NONE);
        Args args = Args.of(Arg.A, a.buffer(), Arg.B, b.buffer(), Arg.C, out.buffer());
        if (bias != null) args.put(Arg.BIAS, bias.buffer());
        Exec.run(d, args);
    }

    /** Column sums of an m x n matrix: a vector of n (no graph; used by backward passes). */
    static Tensor sumRows(Tensor g) {
        int m = g.dim(0), n = Math.toIntExact(g.count() / m);
        Tensor out = Tensor.empty(g.dtype(), n);
        Exec.run(new ReduceDesc(ReduceOp.SUM, 1, m, n, g.dtype()), Args.of(Arg.SRC, g.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    // ---- lookups ----

    /**
     * Rows {@code ids} of {@code table} (vocabulary x dim): an n x dim tensor. Computed as a one-hot n x
     * vocabulary matrix times the table, so the lookup and its gradient (one-hot^T times the output
     * gradient, which adds up repeated ids) are GEMMs that run on any backend.
     */
    public static Tensor embedding(int[] ids, Tensor table) {
        requireRank("embedding", table, 2);
        int vocab = table.dim(0);
        float[] oneHot = new float[Math.multiplyExact(ids.length, vocab)];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("embedding: id " + ids[i] + " at position " + i + " is outside 0.." + (vocab - 1));
            oneHot[i * vocab + ids[i]] = 1;
        }
        return matmul(Tensor.of(table.dtype(), oneHot, ids.length, vocab), table);
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
            // 1/n in the tensor's own precision: an f32 rounding of it would show in a gradient check in double.
            Tensor ones = Tensor.like(x);
            if (x.dtype() == DType.F32) ones.set(filled(n, op == ReduceOp.MEAN ? 1f / n : 1f));
            else ones.set(filledDouble(n, op == ReduceOp.MEAN ? 1.0 / n : 1.0));
            x.accumulate(mul(ones, g));
        }, x);
        Exec.run(new ReduceDesc(op, 1, n, 1, x.dtype()), Args.of(Arg.SRC, x.buffer(), Arg.DST, out.buffer()));
        return out;
    }

    /** A host array of {@code n} copies of {@code v} (initial values of gammas, masks). */
    public static float[] filledArray(int n, float v) { return filled(n, v); }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    static double[] filledDouble(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    static void requireSameDType(String op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype())
            throw new IllegalArgumentException(op + ": operands are " + a.dtype().lower() + " " + Arrays.toString(a.shape()) + " and "
                    + b.dtype().lower() + " " + Arrays.toString(b.shape()) + " (mixing f32 and f64 needs an explicit conversion)");
    }

    static void requireRank(String op, Tensor t, int rank) {
        if (t.rank() != rank)
            throw new IllegalArgumentException(op + ": expected a rank-" + rank + " tensor, got shape " + Arrays.toString(t.shape()));
    }
}
