package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * A level-1 BLAS op on {@code n} elements of strided vectors, f32 or f64. Element i of x is x[i * incx], of y
 * y[i * incy] (increments >= 1; an offset is the operand buffer's own start). The roles:
 * <ul>
 *   <li>DOT: SRC is x, SRC2 is y (read only; they may be the same memory), DST is one element, the sum
 *       of x[i] * y[i]. {@code alpha} must be 1.</li>
 *   <li>AXPY: SRC is x, DST is y (read and written): y[i] = alpha * x[i] + y[i]. alpha == 0 leaves y
 *       untouched (BLAS's early return: a NaN or infinity in x does not reach y).</li>
 *   <li>SCAL: DST is x (read and written): x[i] = alpha * x[i] (alpha == 0 gives signed zeros, or NaN
 *       where x is NaN or infinite, as the plain product). {@code incy} must be 1.</li>
 * </ul>
 * Elements between the stride positions are never touched. {@code n == 0} is allowed, as in BLAS: DOT
 * writes 0 to DST, AXPY and SCAL do nothing. Accumulation is at least in the dtype; the reference sums in
 * double, index order.
 */
public record Blas1Desc(Blas1Op op, DType dtype, int n, double alpha, int incx, int incy) implements OpDesc {
    public Blas1Desc {
        Check.notNull("blas1", "op", op);
        Check.f32OrF64("blas1", dtype);
        String name = nameOf(op, dtype);
        Check.nonNegative(name, "n", n);
        Check.that(incx >= 1, name, () -> "incx must be >= 1 (positive increments only), got " + incx);
        Check.that(incy >= 1, name, () -> "incy must be >= 1 (positive increments only), got " + incy);
        Check.that(Double.isFinite(alpha), name, () -> "alpha must be finite, got " + alpha);
        Check.that(op != Blas1Op.DOT || alpha == 1, name, () -> "dot takes no alpha (must be 1), got " + alpha);
        Check.that(op != Blas1Op.SCAL || incy == 1, name, () -> "scal has no y (incy must be 1), got incy=" + incy);
        span(name, n, incx);
        span(name, n, incy);
    }

    /** x . y over n elements of x (every incx-th) and y (every incy-th). */
    public static Blas1Desc dot(DType dtype, int n, int incx, int incy) { return new Blas1Desc(Blas1Op.DOT, dtype, n, 1, incx, incy); }

    /** y = alpha * x + y. */
    public static Blas1Desc axpy(DType dtype, int n, double alpha, int incx, int incy) {
        return new Blas1Desc(Blas1Op.AXPY, dtype, n, alpha, incx, incy);
    }

    /** x = alpha * x. */
    public static Blas1Desc scal(DType dtype, int n, double alpha, int incx) { return new Blas1Desc(Blas1Op.SCAL, dtype, n, alpha, incx, 1); }

    /** Elements a vector of {@code n} elements {@code inc} apart spans: (n-1)*inc + 1, or 0 when n == 0. */
    public static long span(String op, int n, int inc) { return n == 0 ? 0 : Check.add(op, Check.mul(op, n - 1, inc), 1); }

    private static String nameOf(Blas1Op op, DType dtype) {
        return (dtype == DType.F64 ? "d" : "s") + op.lower();
    }

    @Override public OpKind kind() { return OpKind.BLAS1; }

    @Override public List<ArgSpec> args() {
        String name = opName();
        long x = span(name, n, incx), y = span(name, n, incy);
        String rx = "n=" + n + " incx=" + incx + ": (n-1)*incx+1", ry = "n=" + n + " incy=" + incy + ": (n-1)*incy+1";
        return switch (op) {
            case DOT -> List.of(ArgSpec.in(Arg.SRC, dtype, x, rx), ArgSpec.in(Arg.SRC2, dtype, y, ry),
                    ArgSpec.out(Arg.DST, dtype, 1, "one element: the dot product"));
            case AXPY -> List.of(ArgSpec.in(Arg.SRC, dtype, x, rx), ArgSpec.inout(Arg.DST, dtype, y, ry));
            case SCAL -> List.of(ArgSpec.inout(Arg.DST, dtype, x, rx));
        };
    }

    /** Elements read plus elements written: the compulsory memory traffic in elements. */
    public long elementsMoved() {
        return switch (op) {
            case DOT -> 2L * n;
            case AXPY -> 3L * n;
            case SCAL -> 2L * n;
        };
    }

    @Override public double flops() { return op == Blas1Op.SCAL ? n : 2.0 * n; }

    @Override public String opName() { return nameOf(op, dtype); }

    @Override public String shape() {
        return "n=" + n + " incx=" + incx + (op == Blas1Op.SCAL ? "" : " incy=" + incy);
    }
}
