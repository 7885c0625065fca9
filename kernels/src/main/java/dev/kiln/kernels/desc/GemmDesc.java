package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.ArrayList;
import java.util.List;

/**
 * C = act(alpha * op(A) * op(B) + beta * C + bias), row-major, for each of {@code batch} matrices.
 * op(A) is m x k, op(B) is k x n, C is m x n. A stored untransposed has m rows of lda >= k elements;
 * transposed, k rows of lda >= m. Likewise B (k x ldb>=n, or n x ldb>=k) and C (m x ldc>=n). Batch i uses
 * A + i*strideA, B + i*strideB, C + i*strideC (elements). The bias, when present, has n elements and is
 * added to every row. {@code beta == 0} means C is write-only: it is never read, so NaNs in it vanish.
 * Accumulation is at least in the dtype (f32 or f64).
 */
public record GemmDesc(DType dtype, Transpose transA, Transpose transB, int m, int n, int k,
                       int lda, int ldb, int ldc, double alpha, double beta,
                       int batch, long strideA, long strideB, long strideC,
                       boolean bias, Activation activation) implements OpDesc {

    public GemmDesc {
        String op = "gemm";
        Check.notNull(op, "dtype", dtype);
        Check.notNull(op, "transA", transA);
        Check.notNull(op, "transB", transB);
        Check.notNull(op, "activation", activation);
        Check.that(dtype == DType.F32 || dtype == DType.F64, op, () -> "dtype must be f32 or f64, got " + dtype.lower());
        Check.nonNegative(op, "m", m);
        Check.nonNegative(op, "n", n);
        Check.nonNegative(op, "k", k);
        Check.atLeast(op, "lda", lda, Math.max(1, transA == Transpose.N ? k : m),
                () -> transA == Transpose.N ? "A is m x k untransposed, k=" + k : "A is k x m transposed, m=" + m);
        Check.atLeast(op, "ldb", ldb, Math.max(1, transB == Transpose.N ? n : k),
                () -> transB == Transpose.N ? "B is k x n untransposed, n=" + n : "B is n x k transposed, k=" + k);
        Check.atLeast(op, "ldc", ldc, Math.max(1, n), () -> "C is m x n, n=" + n);
        Check.positive(op, "batch", batch);
        Check.nonNegative(op, "strideA", strideA);
        Check.nonNegative(op, "strideB", strideB);
        Check.nonNegative(op, "strideC", strideC);
        // The messages are built only on failure: small GEMMs construct a descriptor per call.
        Check.that(Double.isFinite(alpha) && Double.isFinite(beta), op,
                () -> "alpha and beta must be finite, got alpha=" + alpha + " beta=" + beta);
        if (batch > 1) Check.atLeast(op, "strideC", strideC, Check.span(op, m, n, ldc),
                "batched C matrices must not overlap: (m-1)*ldc+n");
        // Spans are computed here once so that overflow is reported at construction.
        Check.mul(op, batch, Math.max(strideA, Math.max(strideB, strideC)) + 1);
        Check.mul(op, (long) m, n);
    }

    /** A plain single f32 GEMM with tight leading dimensions. */
    public static GemmDesc of(int m, int n, int k) {
        return of(DType.F32, Transpose.N, Transpose.N, m, n, k, 1.0, 0.0);
    }

    /** A single GEMM with tight leading dimensions for the given transposes. */
    public static GemmDesc of(DType dtype, Transpose ta, Transpose tb, int m, int n, int k, double alpha, double beta) {
        int lda = ta == Transpose.N ? Math.max(1, k) : Math.max(1, m);
        int ldb = tb == Transpose.N ? Math.max(1, n) : Math.max(1, k);
        return new GemmDesc(dtype, ta, tb, m, n, k, lda, ldb, Math.max(1, n), alpha, beta, 1, 0, 0, 0, false, Activation.NONE);
    }

    public GemmDesc withBatch(int batch, long strideA, long strideB, long strideC) {
        return new GemmDesc(dtype, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta, batch, strideA, strideB, strideC, bias, activation);
    }

    public GemmDesc withEpilogue(boolean bias, Activation activation) {
        return new GemmDesc(dtype, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta, batch, strideA, strideB, strideC, bias, activation);
    }

    public GemmDesc withLeadingDims(int lda, int ldb, int ldc) {
        return new GemmDesc(dtype, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta, batch, strideA, strideB, strideC, bias, activation);
    }

    public int rowsA() { return transA == Transpose.N ? m : k; }

    public int colsA() { return transA == Transpose.N ? k : m; }

    public int rowsB() { return transB == Transpose.N ? k : n; }

    public int colsB() { return transB == Transpose.N ? n : k; }

    private long batched(long stride, long one) {
        return one == 0 ? 0 : Check.add("gemm", Check.mul("gemm", batch - 1, stride), one);
    }

    @Override public OpKind kind() { return OpKind.GEMM; }

    /**
     * Specs by descriptor. The facade and dispatch each ask for them on every call, and building them (rule
     * strings included) cost more than an 8x8 GEMM itself; small-GEMM callers make an equal descriptor per
     * call, so equality is the key. Bounded: cleared when full (a few thousand shapes is far past any model's).
     */
    private static final java.util.concurrent.ConcurrentHashMap<GemmDesc, List<ArgSpec>> SPECS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int SPECS_MAX = 4096;

    @Override public List<ArgSpec> args() {
        List<ArgSpec> cached = SPECS.get(this);
        if (cached != null) return cached;
        List<ArgSpec> built = buildArgs();
        if (SPECS.size() >= SPECS_MAX) SPECS.clear();
        SPECS.put(this, built);
        return built;
    }

    private List<ArgSpec> buildArgs() {
        String op = "gemm";
        List<ArgSpec> list = new ArrayList<>(4);
        list.add(ArgSpec.in(Arg.A, dtype, batched(strideA, Check.span(op, rowsA(), colsA(), lda)),
                rowsA() + " rows of lda=" + lda + (batch > 1 ? ", batch=" + batch + " strideA=" + strideA : "")));
        list.add(ArgSpec.in(Arg.B, dtype, batched(strideB, Check.span(op, rowsB(), colsB(), ldb)),
                rowsB() + " rows of ldb=" + ldb + (batch > 1 ? ", batch=" + batch + " strideB=" + strideB : "")));
        long c = batched(strideC, Check.span(op, m, n, ldc));
        String rule = m + " rows of ldc=" + ldc + (batch > 1 ? ", batch=" + batch + " strideC=" + strideC : "");
        list.add(beta == 0 ? ArgSpec.out(Arg.C, dtype, c, rule) : ArgSpec.inout(Arg.C, dtype, c, rule));
        if (bias) list.add(ArgSpec.in(Arg.BIAS, dtype, n, "n=" + n));
        return List.copyOf(list);
    }

    @Override public double flops() { return 2.0 * m * n * k * batch; }

    @Override public String opName() { return dtype == DType.F64 ? "dgemm" : "gemm"; }

    @Override public String shape() {
        return "m=" + m + " n=" + n + " k=" + k + " " + transA + transB
                + (batch > 1 ? " batch=" + batch : "")
                + (bias || activation != Activation.NONE ? " epilogue=" + (bias ? "bias+" : "") + activation.name().toLowerCase() : "");
    }
}
