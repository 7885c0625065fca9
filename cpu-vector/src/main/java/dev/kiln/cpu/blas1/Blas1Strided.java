package dev.kiln.cpu.blas1;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * DOT, AXPY and SCAL over one chunk {@code [from, from+len)} of strided vectors (element i of x at
 * {@code i*incx}), scalar: a vector load cannot gather from a segment, and at increment 2 or more every
 * element touched costs its own cache line or half of one, so the loop is bound by memory, not by the
 * arithmetic. Also the path for contiguous operands that are neither native segments nor plain arrays.
 * Any segment works (unaligned access). DOT keeps four partial sums (element i in sum i mod 4), combined
 * as (s0 + s1) + (s2 + s3): fixed, so the result is the same on every run.
 */
final class Blas1Strided {
    private Blas1Strided() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    static float dotF(MemorySegment x, long incx, MemorySegment y, long incy, long from, int len) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long end = from + len, i = from;
        for (; i + 4 <= end; i += 4) {
            s0 = Math.fma(x.getAtIndex(F, i * incx), y.getAtIndex(F, i * incy), s0);
            s1 = Math.fma(x.getAtIndex(F, (i + 1) * incx), y.getAtIndex(F, (i + 1) * incy), s1);
            s2 = Math.fma(x.getAtIndex(F, (i + 2) * incx), y.getAtIndex(F, (i + 2) * incy), s2);
            s3 = Math.fma(x.getAtIndex(F, (i + 3) * incx), y.getAtIndex(F, (i + 3) * incy), s3);
        }
        for (; i < end; i++) s0 = Math.fma(x.getAtIndex(F, i * incx), y.getAtIndex(F, i * incy), s0);
        return (s0 + s1) + (s2 + s3);
    }

    static double dotD(MemorySegment x, long incx, MemorySegment y, long incy, long from, int len) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long end = from + len, i = from;
        for (; i + 4 <= end; i += 4) {
            s0 = Math.fma(x.getAtIndex(D, i * incx), y.getAtIndex(D, i * incy), s0);
            s1 = Math.fma(x.getAtIndex(D, (i + 1) * incx), y.getAtIndex(D, (i + 1) * incy), s1);
            s2 = Math.fma(x.getAtIndex(D, (i + 2) * incx), y.getAtIndex(D, (i + 2) * incy), s2);
            s3 = Math.fma(x.getAtIndex(D, (i + 3) * incx), y.getAtIndex(D, (i + 3) * incy), s3);
        }
        for (; i < end; i++) s0 = Math.fma(x.getAtIndex(D, i * incx), y.getAtIndex(D, i * incy), s0);
        return (s0 + s1) + (s2 + s3);
    }

    static void axpyF(float alpha, MemorySegment x, long incx, MemorySegment y, long incy, long from, int len) {
        for (long i = from, end = from + len; i < end; i++)
            y.setAtIndex(F, i * incy, Math.fma(alpha, x.getAtIndex(F, i * incx), y.getAtIndex(F, i * incy)));
    }

    static void axpyD(double alpha, MemorySegment x, long incx, MemorySegment y, long incy, long from, int len) {
        for (long i = from, end = from + len; i < end; i++)
            y.setAtIndex(D, i * incy, Math.fma(alpha, x.getAtIndex(D, i * incx), y.getAtIndex(D, i * incy)));
    }

    static void scalF(float alpha, MemorySegment x, long incx, long from, int len) {
        for (long i = from, end = from + len; i < end; i++) x.setAtIndex(F, i * incx, alpha * x.getAtIndex(F, i * incx));
    }

    static void scalD(double alpha, MemorySegment x, long incx, long from, int len) {
        for (long i = from, end = from + len; i < end; i++) x.setAtIndex(D, i * incx, alpha * x.getAtIndex(D, i * incx));
    }
}
