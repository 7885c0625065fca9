package dev.kiln.kernels;

import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;

/**
 * BLAS-style calls on host arrays and segments, row-major, for frameworks that bring their own memory.
 * Zero copy on the CPU backend; dispatch copies to a device only when the work pays for it.
 * Every argument is checked before anything is written.
 *
 * <p>Level 1 ({@code sdot}, {@code saxpy}, {@code sscal} and their {@code d} twins) and GEMV
 * ({@code sgemv}, {@code dgemv}) take strided vectors as BLAS does: n elements, the i-th at
 * {@code offset + i * inc}, increments >= 1 (negative ones are refused, not reversed). GEMV runs as the
 * one-column GEMM. See {@link dev.kiln.kernels.desc.Blas1Desc} for what n == 0 and alpha == 0 do.
 */
public final class Blas {
    private Blas() {}

    /** C = alpha * op(A) * op(B) + beta * C on {@code float[]} with offsets and leading dimensions. */
    public static void sgemm(Transpose transA, Transpose transB, int m, int n, int k,
                             float alpha, float[] a, int offA, int lda,
                             float[] b, int offB, int ldb,
                             float beta, float[] c, int offC, int ldc) {
        GemmDesc desc = new GemmDesc(DType.F32, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta,
                1, 0, 0, 0, false, Activation.NONE);
        Kernels.execute(desc, Args.of(
                Arg.A, view("sgemm", "A", a, offA), Arg.B, view("sgemm", "B", b, offB), Arg.C, view("sgemm", "C", c, offC)));
    }

    /** Row-major C = A * B with tight leading dimensions: A is m x k, B k x n, C m x n. */
    public static void sgemm(int m, int n, int k, float[] a, float[] b, float[] c) {
        sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, Math.max(1, k), b, 0, Math.max(1, n), 0f, c, 0, Math.max(1, n));
    }

    /** C = alpha * op(A) * op(B) + beta * C on {@code double[]}. */
    public static void dgemm(Transpose transA, Transpose transB, int m, int n, int k,
                             double alpha, double[] a, int offA, int lda,
                             double[] b, int offB, int ldb,
                             double beta, double[] c, int offC, int ldc) {
        GemmDesc desc = new GemmDesc(DType.F64, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta,
                1, 0, 0, 0, false, Activation.NONE);
        Kernels.execute(desc, Args.of(Arg.A, view("dgemm", "A", a, offA), Arg.B, view("dgemm", "B", b, offB),
                Arg.C, view("dgemm", "C", c, offC)));
    }

    /** SGEMM on memory segments (native or heap) holding f32 values, row-major. */
    public static void sgemm(Transpose transA, Transpose transB, int m, int n, int k,
                             float alpha, MemorySegment a, int lda, MemorySegment b, int ldb,
                             float beta, MemorySegment c, int ldc) {
        GemmDesc desc = new GemmDesc(DType.F32, transA, transB, m, n, k, lda, ldb, ldc, alpha, beta,
                1, 0, 0, 0, false, Activation.NONE);
        Kernels.execute(desc, Args.of(Arg.A, view("sgemm", "A", a, DType.F32), Arg.B, view("sgemm", "B", b, DType.F32),
                Arg.C, view("sgemm", "C", c, DType.F32)));
    }

    // ---- Level 1 and GEMV: strided vectors. Element i of x is x[offX + i*incx] (increments >= 1); n == 0
    // gives a dot of 0 and leaves every array untouched. Outputs may not overlap inputs (x and y of a dot may).

    /** The dot product of n elements of x and y, summed in f32 (several partial sums, combined in a fixed order). */
    public static float sdot(int n, float[] x, int offX, int incx, float[] y, int offY, int incy) {
        BlasVectors.checkIncrements("sdot", n, incx, incy);
        return (float) dot(DType.F32, n, incx, incy, BlasVectors.vector("sdot", "x", x, offX, n, incx, "incx"),
                BlasVectors.vector("sdot", "y", y, offY, n, incy, "incy"));
    }

    /** {@link #sdot(int, float[], int, int, float[], int, int)} on segments holding f32 values. */
    public static float sdot(int n, MemorySegment x, int incx, MemorySegment y, int incy) {
        BlasVectors.checkIncrements("sdot", n, incx, incy);
        return (float) dot(DType.F32, n, incx, incy, BlasVectors.vector("sdot", "x", x, DType.F32, n, incx, "incx"),
                BlasVectors.vector("sdot", "y", y, DType.F32, n, incy, "incy"));
    }

    /** The dot product in f64. */
    public static double ddot(int n, double[] x, int offX, int incx, double[] y, int offY, int incy) {
        BlasVectors.checkIncrements("ddot", n, incx, incy);
        return dot(DType.F64, n, incx, incy, BlasVectors.vector("ddot", "x", x, offX, n, incx, "incx"),
                BlasVectors.vector("ddot", "y", y, offY, n, incy, "incy"));
    }

    /** The f64 dot product on segments. */
    public static double ddot(int n, MemorySegment x, int incx, MemorySegment y, int incy) {
        BlasVectors.checkIncrements("ddot", n, incx, incy);
        return dot(DType.F64, n, incx, incy, BlasVectors.vector("ddot", "x", x, DType.F64, n, incx, "incx"),
                BlasVectors.vector("ddot", "y", y, DType.F64, n, incy, "incy"));
    }

    /** The DOT kernel's one-element result (f32 or f64 as {@code t}) for checked operand views. */
    private static double dot(DType t, int n, int incx, int incy, HostBuffer x, HostBuffer y) {
        if (t == DType.F32) {
            float[] result = new float[1];
            Kernels.execute(Blas1Desc.dot(t, n, incx, incy), Args.of(Arg.SRC, x, Arg.SRC2, y, Arg.DST, HostBuffer.wrap(result)));
            return result[0];
        }
        double[] result = new double[1];
        Kernels.execute(Blas1Desc.dot(t, n, incx, incy), Args.of(Arg.SRC, x, Arg.SRC2, y, Arg.DST, HostBuffer.wrap(result)));
        return result[0];
    }

    /** y = alpha * x + y on n strided elements (alpha == 0: y untouched, as in BLAS). */
    public static void saxpy(int n, float alpha, float[] x, int offX, int incx, float[] y, int offY, int incy) {
        BlasVectors.checkIncrements("saxpy", n, incx, incy);
        Kernels.execute(Blas1Desc.axpy(DType.F32, n, alpha, incx, incy), Args.of(
                Arg.SRC, BlasVectors.vector("saxpy", "x", x, offX, n, incx, "incx"),
                Arg.DST, BlasVectors.vector("saxpy", "y", y, offY, n, incy, "incy")));
    }

    public static void saxpy(int n, float alpha, MemorySegment x, int incx, MemorySegment y, int incy) {
        BlasVectors.checkIncrements("saxpy", n, incx, incy);
        Kernels.execute(Blas1Desc.axpy(DType.F32, n, alpha, incx, incy), Args.of(
                Arg.SRC, BlasVectors.vector("saxpy", "x", x, DType.F32, n, incx, "incx"),
                Arg.DST, BlasVectors.vector("saxpy", "y", y, DType.F32, n, incy, "incy")));
    }

    public static void daxpy(int n, double alpha, double[] x, int offX, int incx, double[] y, int offY, int incy) {
        BlasVectors.checkIncrements("daxpy", n, incx, incy);
        Kernels.execute(Blas1Desc.axpy(DType.F64, n, alpha, incx, incy), Args.of(
                Arg.SRC, BlasVectors.vector("daxpy", "x", x, offX, n, incx, "incx"),
                Arg.DST, BlasVectors.vector("daxpy", "y", y, offY, n, incy, "incy")));
    }

    public static void daxpy(int n, double alpha, MemorySegment x, int incx, MemorySegment y, int incy) {
        BlasVectors.checkIncrements("daxpy", n, incx, incy);
        Kernels.execute(Blas1Desc.axpy(DType.F64, n, alpha, incx, incy), Args.of(
                Arg.SRC, BlasVectors.vector("daxpy", "x", x, DType.F64, n, incx, "incx"),
                Arg.DST, BlasVectors.vector("daxpy", "y", y, DType.F64, n, incy, "incy")));
    }

    /** x = alpha * x on n strided elements. */
    public static void sscal(int n, float alpha, float[] x, int offX, int incx) {
        BlasVectors.checkIncrements("sscal", n, incx, 1);
        Kernels.execute(Blas1Desc.scal(DType.F32, n, alpha, incx),
                Args.of(Arg.DST, BlasVectors.vector("sscal", "x", x, offX, n, incx, "incx")));
    }

    public static void sscal(int n, float alpha, MemorySegment x, int incx) {
        BlasVectors.checkIncrements("sscal", n, incx, 1);
        Kernels.execute(Blas1Desc.scal(DType.F32, n, alpha, incx),
                Args.of(Arg.DST, BlasVectors.vector("sscal", "x", x, DType.F32, n, incx, "incx")));
    }

    public static void dscal(int n, double alpha, double[] x, int offX, int incx) {
        BlasVectors.checkIncrements("dscal", n, incx, 1);
        Kernels.execute(Blas1Desc.scal(DType.F64, n, alpha, incx),
                Args.of(Arg.DST, BlasVectors.vector("dscal", "x", x, offX, n, incx, "incx")));
    }

    public static void dscal(int n, double alpha, MemorySegment x, int incx) {
        BlasVectors.checkIncrements("dscal", n, incx, 1);
        Kernels.execute(Blas1Desc.scal(DType.F64, n, alpha, incx),
                Args.of(Arg.DST, BlasVectors.vector("dscal", "x", x, DType.F64, n, incx, "incx")));
    }

    /**
     * y = alpha * op(A) * x + beta * y, A m x n row-major (lda >= n): op(A) = A takes n elements of x and
     * writes m of y; {@link Transpose#T} takes m and writes n. Runs as the GEMM with one column (ldb = incx,
     * ldc = incy), so beta == 0 never reads y.
     */
    public static void sgemv(Transpose trans, int m, int n, float alpha, float[] a, int offA, int lda,
                             float[] x, int offX, int incx, float beta, float[] y, int offY, int incy) {
        boolean t = checkTrans("sgemv", trans);
        BlasVectors.checkGemv("sgemv", t, m, n, lda, incx, incy);
        if (a == null) throw new IllegalArgumentException("sgemv: A is null");
        if (offA < 0 || offA > a.length) throw new IllegalArgumentException("sgemv: offset of A is " + offA + ", outside its length " + a.length);
        BlasVectors.checkMatrix("sgemv", a.length - offA, m, n, lda, " after offset " + offA);
        HostBuffer vx = BlasVectors.vector("sgemv", "x", x, offX, t ? m : n, incx, "incx");
        HostBuffer vy = BlasVectors.vector("sgemv", "y", y, offY, t ? n : m, incy, "incy");
        Kernels.execute(gemv(DType.F32, t, m, n, lda, alpha, incx, beta, incy),
                Args.of(Arg.A, HostBuffer.wrap(a, offA, a.length - offA), Arg.B, vx, Arg.C, vy));
    }

    /** {@link #sgemv(Transpose, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)} on f32 segments. */
    public static void sgemv(Transpose trans, int m, int n, float alpha, MemorySegment a, int lda,
                             MemorySegment x, int incx, float beta, MemorySegment y, int incy) {
        boolean t = checkTrans("sgemv", trans);
        BlasVectors.checkGemv("sgemv", t, m, n, lda, incx, incy);
        HostBuffer va = view("sgemv", "A", a, DType.F32);
        BlasVectors.checkMatrix("sgemv", va.count(), m, n, lda, "");
        HostBuffer vx = BlasVectors.vector("sgemv", "x", x, DType.F32, t ? m : n, incx, "incx");
        HostBuffer vy = BlasVectors.vector("sgemv", "y", y, DType.F32, t ? n : m, incy, "incy");
        Kernels.execute(gemv(DType.F32, t, m, n, lda, alpha, incx, beta, incy), Args.of(Arg.A, va, Arg.B, vx, Arg.C, vy));
    }

    /** GEMV in f64 on arrays. */
    public static void dgemv(Transpose trans, int m, int n, double alpha, double[] a, int offA, int lda,
                             double[] x, int offX, int incx, double beta, double[] y, int offY, int incy) {
        boolean t = checkTrans("dgemv", trans);
        BlasVectors.checkGemv("dgemv", t, m, n, lda, incx, incy);
        HostBuffer va = view("dgemv", "A", a, offA);
        BlasVectors.checkMatrix("dgemv", va.count(), m, n, lda, " after offset " + offA);
        HostBuffer vx = BlasVectors.vector("dgemv", "x", x, offX, t ? m : n, incx, "incx");
        HostBuffer vy = BlasVectors.vector("dgemv", "y", y, offY, t ? n : m, incy, "incy");
        Kernels.execute(gemv(DType.F64, t, m, n, lda, alpha, incx, beta, incy), Args.of(Arg.A, va, Arg.B, vx, Arg.C, vy));
    }

    private static boolean checkTrans(String op, Transpose trans) {
        if (trans == null) throw new IllegalArgumentException(op + ": trans is null");
        return trans == Transpose.T;
    }

    /** GEMV as GEMM: C (rows x 1, ldc = incy) = op(A) (rows x inner) * B (inner x 1, ldb = incx). */
    private static GemmDesc gemv(DType dtype, boolean t, int m, int n, int lda, double alpha, int incx, double beta, int incy) {
        return new GemmDesc(dtype, t ? Transpose.T : Transpose.N, Transpose.N, t ? n : m, 1, t ? m : n, lda, incx, incy,
                alpha, beta, 1, 0, 0, 0, false, Activation.NONE);
    }

    static HostBuffer view(String op, String name, float[] array, int offset) {
        checkArray(op, name, array == null ? -1 : array.length, offset);
        return HostBuffer.wrap(array, offset, array.length - offset);
    }

    static HostBuffer view(String op, String name, double[] array, int offset) {
        checkArray(op, name, array == null ? -1 : array.length, offset);
        return HostBuffer.wrap(MemorySegment.ofArray(array).asSlice(offset * 8L), DType.F64);
    }

    static HostBuffer view(String op, String name, MemorySegment segment, DType dtype) {
        if (segment == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (segment.byteSize() % (dtype.bits() / 8) != 0)
            throw new IllegalArgumentException(op + ": " + name + " has " + segment.byteSize() + " bytes, not a whole number of "
                    + dtype.lower() + " elements");
        return HostBuffer.wrap(segment, dtype);
    }

    private static void checkArray(String op, String name, int length, int offset) {
        if (length < 0) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (offset < 0 || offset > length)
            throw new IllegalArgumentException(op + ": offset of " + name + " is " + offset + ", outside its length " + length);
    }
}
