package dev.kiln.cpu.blas1;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * DOT, AXPY and SCAL (f32 and f64) on the CPU: memory-bound, so the aim is to stream x and y once at the
 * memory's speed. The n elements are cut into chunks of {@value #CHUNK} by a rule that ignores the thread
 * count; long vectors (from {@value #PARALLEL_MIN} elements, in segments other threads may touch) spread
 * the chunks over the shared pool. DOT
 * sums each chunk on its own and adds the chunk sums in chunk order (in double), so its bits are the same
 * for any number of threads; AXPY and SCAL write each element once, from one chunk.
 *
 * <p>Paths: increment 1 everywhere runs the vector loops of {@link Blas1Loops} (native segments, or the
 * arrays behind heap segments); otherwise {@link Blas1Strided}'s scalar loops. Rules shared with the
 * reference: n == 0 writes a dot of 0 and nothing else; AXPY with alpha == 0 returns without reading x.
 */
public final class VectorBlas1 {
    private VectorBlas1() {}

    /** Elements per chunk: 64 KB of f32 per operand, long enough that handing out a chunk costs nothing. */
    static final int CHUNK = 1 << 14;
    /** Below this many elements one thread runs every chunk: waking a helper costs more than the work. */
    static final int PARALLEL_MIN = 1 << 17;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private enum Path { NATIVE, ARRAY, SCALAR }

    /** Every f32 and f64 descriptor, any increment. */
    public static Support supports(Blas1Desc d) { return Support.YES; }

    public static void run(Width w, Blas1Desc d, Args a) {
        int n = d.n();
        boolean f64 = d.dtype() == DType.F64;
        switch (d.op()) {
            case DOT -> {
                double v = n == 0 ? 0 : dot(w, d, a.host(Arg.SRC), a.host(Arg.SRC2));
                MemorySegment dst = a.host(Arg.DST);
                if (f64) dst.setAtIndex(D, 0, v);
                else dst.setAtIndex(F, 0, (float) v);
            }
            case AXPY -> { if (n > 0 && d.alpha() != 0) axpy(w, d, a.host(Arg.SRC), a.host(Arg.DST)); }
            case SCAL -> { if (n > 0) scal(w, d, a.host(Arg.DST)); }
        }
    }

    /** A chunk's work: elements [from, from + len). */
    private interface Chunk { void run(long from, int len); }

    /** A chunk's partial dot product. */
    private interface ChunkSum { double sum(long from, int len); }

    private static double dot(Width w, Blas1Desc d, MemorySegment x, MemorySegment y) {
        boolean f64 = d.dtype() == DType.F64;
        long incx = d.incx(), incy = d.incy();
        ChunkSum body = switch (path(d, x, y)) {
            case NATIVE -> f64 ? (from, len) -> Blas1Loops.dotD(w, x, y, from, len) : (from, len) -> Blas1Loops.dot(w, x, y, from, len);
            case ARRAY -> {
                int bx = base(x, d.dtype()), by = base(y, d.dtype());
                if (f64) {
                    double[] ax = (double[]) x.heapBase().orElseThrow(), ay = (double[]) y.heapBase().orElseThrow();
                    yield (from, len) -> Blas1Loops.dot(w, ax, bx, ay, by, (int) from, len);
                }
                float[] ax = (float[]) x.heapBase().orElseThrow(), ay = (float[]) y.heapBase().orElseThrow();
                yield (from, len) -> Blas1Loops.dot(w, ax, bx, ay, by, (int) from, len);
            }
            case SCALAR -> f64 ? (from, len) -> Blas1Strided.dotD(x, incx, y, incy, from, len)
                               : (from, len) -> Blas1Strided.dotF(x, incx, y, incy, from, len);
        };
        int n = d.n(), chunks = Math.ceilDiv(n, CHUNK);
        if (chunks == 1) return body.sum(0, n);
        double[] partial = new double[chunks];
        forChunks(n, (from, len) -> partial[(int) (from / CHUNK)] = body.sum(from, len));
        double total = 0;
        for (double p : partial) total += p; // chunk order: the same bits for any thread count
        return total;
    }

    private static void axpy(Width w, Blas1Desc d, MemorySegment x, MemorySegment y) {
        boolean f64 = d.dtype() == DType.F64;
        long incx = d.incx(), incy = d.incy();
        double alpha = d.alpha();
        float alphaF = (float) alpha;
        Chunk body = switch (path(d, x, y)) {
            case NATIVE -> f64 ? (from, len) -> Blas1Loops.axpyD(w, alpha, x, y, from, len)
                               : (from, len) -> Blas1Loops.axpy(w, alphaF, x, y, from, len);
            case ARRAY -> {
                int bx = base(x, d.dtype()), by = base(y, d.dtype());
                if (f64) {
                    double[] ax = (double[]) x.heapBase().orElseThrow(), ay = (double[]) y.heapBase().orElseThrow();
                    yield (from, len) -> Blas1Loops.axpy(w, alpha, ax, bx, ay, by, (int) from, len);
                }
                float[] ax = (float[]) x.heapBase().orElseThrow(), ay = (float[]) y.heapBase().orElseThrow();
                yield (from, len) -> Blas1Loops.axpy(w, alphaF, ax, bx, ay, by, (int) from, len);
            }
            case SCALAR -> f64 ? (from, len) -> Blas1Strided.axpyD(alpha, x, incx, y, incy, from, len)
                               : (from, len) -> Blas1Strided.axpyF(alphaF, x, incx, y, incy, from, len);
        };
        forChunks(d.n(), body);
    }

    private static void scal(Width w, Blas1Desc d, MemorySegment x) {
        boolean f64 = d.dtype() == DType.F64;
        long incx = d.incx();
        double alpha = d.alpha();
        float alphaF = (float) alpha;
        Chunk body = switch (path(d, x, null)) {
            case NATIVE -> f64 ? (from, len) -> Blas1Loops.scalD(w, alpha, x, from, len)
                               : (from, len) -> Blas1Loops.scal(w, alphaF, x, from, len);
            case ARRAY -> {
                int bx = base(x, d.dtype());
                if (f64) {
                    double[] ax = (double[]) x.heapBase().orElseThrow();
                    yield (from, len) -> Blas1Loops.scal(w, alpha, ax, bx, (int) from, len);
                }
                float[] ax = (float[]) x.heapBase().orElseThrow();
                yield (from, len) -> Blas1Loops.scal(w, alphaF, ax, bx, (int) from, len);
            }
            case SCALAR -> f64 ? (from, len) -> Blas1Strided.scalD(alpha, x, incx, from, len)
                               : (from, len) -> Blas1Strided.scalF(alphaF, x, incx, from, len);
        };
        forChunks(d.n(), body);
    }

    /**
     * Runs {@code body} over the fixed chunks of n elements, on the pool when n is long enough to pay for it (a
     * confined arena's operands keep it on the caller: see VectorImpl).
     */
    private static void forChunks(int n, Chunk body) {
        int chunks = Math.ceilDiv(n, CHUNK);
        if (n < PARALLEL_MIN) {
            for (int c = 0; c < chunks; c++) body.run((long) c * CHUNK, Math.min(CHUNK, n - c * CHUNK));
            return;
        }
        CpuThreads.parallelFor(chunks, c -> body.run((long) c * CHUNK, Math.min(CHUNK, n - c * CHUNK)));
    }

    /**
     * The vector path the operands allow: NATIVE when every increment is 1 and every operand is an arena's
     * segment, ARRAY when every one is a whole-element view of a {@code float[]} / {@code double[]} (the
     * facade's arrays), else SCALAR. The vectors {@code a} and {@code b} (b may be null) are the ones read.
     */
    private static Path path(Blas1Desc d, MemorySegment a, MemorySegment b) {
        boolean unit = d.incx() == 1 && (b == null || d.incy() == 1);
        if (!unit) return Path.SCALAR;
        if (a.getClass() == Blas1Loops.NATIVE && (b == null || b.getClass() == Blas1Loops.NATIVE)) return Path.NATIVE;
        if (isArray(a, d.dtype()) && (b == null || isArray(b, d.dtype()))) return Path.ARRAY;
        return Path.SCALAR;
    }

    private static boolean isArray(MemorySegment s, DType t) {
        Object base = s.heapBase().orElse(null);
        boolean typed = t == DType.F64 ? base instanceof double[] : base instanceof float[];
        return typed && s.address() % (t == DType.F64 ? 8 : 4) == 0;
    }

    /** The array index of a heap segment's element 0 (its address is the byte offset into the array). */
    private static int base(MemorySegment s, DType t) { return (int) (s.address() / (t == DType.F64 ? 8 : 4)); }
}
