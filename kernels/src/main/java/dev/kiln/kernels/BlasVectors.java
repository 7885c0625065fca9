package dev.kiln.kernels;

import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;

/**
 * The argument checks and operand views behind {@link Blas}'s vector calls (dot, axpy, scal, gemv): each
 * strided vector is checked against its array or segment by the BLAS names (x, y, A), so a message says
 * "x has 5 elements after offset 2, needs 9 (n=5, incx=2: (n-1)*incx+1)" before anything is written.
 */
final class BlasVectors {
    private BlasVectors() {}

    /** An array's elements from {@code offset}, which must hold {@code n} elements {@code inc} apart. */
    static HostBuffer vector(String op, String name, float[] array, int offset, int n, int inc, String incName) {
        checkVector(op, name, array == null ? -1 : array.length, offset, n, inc, incName);
        return HostBuffer.wrap(array, offset, array.length - offset);
    }

    static HostBuffer vector(String op, String name, double[] array, int offset, int n, int inc, String incName) {
        checkVector(op, name, array == null ? -1 : array.length, offset, n, inc, incName);
        return HostBuffer.wrap(MemorySegment.ofArray(array).asSlice(offset * 8L), DType.F64);
    }

    static HostBuffer vector(String op, String name, MemorySegment segment, DType dtype, int n, int inc, String incName) {
        HostBuffer b = Blas.view(op, name, segment, dtype);
        long need = Blas1Desc.span(op, n, inc);
        if (b.count() < need)
            throw new IllegalArgumentException(op + ": " + name + " has " + b.count() + " " + dtype.lower() + " elements, needs " + need
                    + " (n=" + n + ", " + incName + "=" + inc + ": (n-1)*" + incName + "+1)");
        return b;
    }

    private static void checkVector(String op, String name, int length, int offset, int n, int inc, String incName) {
        if (length < 0) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (offset < 0 || offset > length)
            throw new IllegalArgumentException(op + ": offset of " + name + " is " + offset + ", outside its length " + length);
        long need = Blas1Desc.span(op, n, inc);
        if (length - offset < need)
            throw new IllegalArgumentException(op + ": " + name + " has " + (length - offset) + " elements after offset " + offset
                    + ", needs " + need + " (n=" + n + ", " + incName + "=" + inc + ": (n-1)*" + incName + "+1)");
    }

    /** The increment and length checks a descriptor makes, phrased for the call (done first: a span needs inc >= 1). */
    static void checkIncrements(String op, int n, int incx, int incy) {
        if (n < 0) throw new IllegalArgumentException(op + ": n must be >= 0, got " + n);
        if (incx < 1) throw new IllegalArgumentException(op + ": incx must be >= 1 (positive increments only), got " + incx);
        if (incy < 1) throw new IllegalArgumentException(op + ": incy must be >= 1 (positive increments only), got " + incy);
    }

    /**
     * GEMV's shape checks, in its own terms: A is m x n row-major with lda >= max(1, n); x has n elements
     * (m when transposed), y m (n when transposed).
     */
    static void checkGemv(String op, boolean transposed, int m, int n, int lda, int incx, int incy) {
        if (m < 0 || n < 0) throw new IllegalArgumentException(op + ": m and n must be >= 0, got m=" + m + " n=" + n);
        if (lda < Math.max(1, n))
            throw new IllegalArgumentException(op + ": lda = " + lda + " must be >= max(1, n) = " + Math.max(1, n) + " (A is m x n row-major)");
        checkIncrements(op, transposed ? m : n, incx, incy);
    }

    /** Elements A spans: (m-1)*lda + n, or 0 when empty. */
    static long matrixSpan(int m, int n, int lda) { return m == 0 || n == 0 ? 0 : (long) (m - 1) * lda + n; }

    static void checkMatrix(String op, long available, int m, int n, int lda, String where) {
        long need = matrixSpan(m, n, lda);
        if (available < need)
            throw new IllegalArgumentException(op + ": A has " + available + " elements" + where + ", needs " + need
                    + " (m=" + m + " rows of lda=" + lda + ", n=" + n + ": (m-1)*lda+n)");
    }
}
