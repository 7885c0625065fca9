package dev.kiln.kernels;

import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;

/**
 * BLAS-style calls on host arrays and segments, row-major, for frameworks that bring their own memory.
 * Zero copy on the CPU backend; dispatch copies to a device only when the work pays for it.
 * Every argument is checked before anything is written.
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
