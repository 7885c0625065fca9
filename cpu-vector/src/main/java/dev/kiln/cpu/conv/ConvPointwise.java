package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Forward and backward-data of a {@link VectorConv#pointwise} convolution (1x1, stride 1, unpadded, one group) on
 * loops of their own: per image Y_b (cy x plane) = W (cy x cx) . X_b (cx x plane), and X_b = W^T . Y_b the same way
 * with the weights packed transposed. W is packed once per call by the calling thread;
 * then one parallel pass runs all (image, column block) tasks, each packing its cx x nc block of X straight from
 * the input (row stride plane, no im2col copy) right before the microkernels use it, so the reads of X interleave
 * with FMAs of the other thread instead of filling a packing pass of their own. The GEMM driver's batched path,
 * which this replaces, packed W again per image and ran two passes per image (pack B, then ~5 C blocks), so with
 * two threads one waited at every image. The task grid depends only on the shape, so results are bit-identical
 * for any thread count.
 */
final class ConvPointwise {
    private ConvPointwise() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Floats of packed B per task: 256 KB, so that a block of X stays in L2 beside all of packed W (64 KB at 64 x 256). */
    private static final int BLOCK_FLOATS = 64 * 1024;
    private static final int NC = Integer.getInteger("kiln.conv.pointwiseNc", 0);

    private static final class Scratch {
        float[] a = new float[0], b = new float[0], edge = new float[0], tile = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Columns per task: a multiple of nr near BLOCK_FLOATS / cx, at most the plane rounded up to nr. */
    static int columns(int cx, int plane, int nr) {
        int nc = NC > 0 ? Math.max(nr, NC / nr * nr) : Math.max(nr, BLOCK_FLOATS / Math.max(1, cx) / nr * nr);
        return Math.min(nc, Math.ceilDiv(plane, nr) * nr);
    }

    /**
     * Whether the wide (16-lane) kernel packs each B sliver during its first A sliver ({@link ConvPointwiseMicro})
     * rather than in a packing loop before the block (-Dkiln.conv.pointwiseFused=false; non-final for A/B runs).
     */
    static boolean FUSED = !"false".equals(System.getProperty("kiln.conv.pointwiseFused"));

    /**
     * Whether a last sliver one vector wide runs on {@link ConvPointwiseMicro#kernelOneVector} rather than the
     * 4-vector kernel (-Dkiln.conv.pointwiseNarrowEdge=false; non-final for A/B runs). The same bits either way.
     */
    static boolean NARROW_EDGE = !"false".equals(System.getProperty("kiln.conv.pointwiseNarrowEdge"));

    /**
     * Y block (cy x cols at element {@code yAt}, row stride ld) = packed W times the cx x cols block of X at {@code xAt}:
     * depth chunks of ConvGemm.KC outer, B slivers, then A slivers, as ConvGemm.multiply, but a full sliver's first
     * A sliver reads it from X and packs it ({@link ConvPointwiseMicro#kernelWidePacking}); the last, partial sliver
     * is packed (zero-filled) into {@code s.edge} first, and runs on the 6 x 1-vector kernel when it is one vector
     * wide (28x28 = 12 slivers of 64 columns + 16: the 4-vector kernel did that sliver at a quarter of its width,
     * ~6% of the forward's time). Same FMAs in the same order as the packed path.
     */
    private static void fusedBlock(Width w, int k, int m, int cols, float[] ap, MemorySegment x, long xAt, int ld, Scratch s,
                                   MemorySegment y, long yAt) {
        int nr = 4 * w.floats().length(), mr = ConvGemm.MR;
        int full = cols / nr * nr;
        boolean narrowEdge = NARROW_EDGE && cols - full <= w.floats().length();
        if (full < cols) ConvGemm.packB(w, x, xAt + full, ld, k, cols - full, s.edge);
        int p0 = 0;
        do {
            int kc = Math.min(ConvGemm.KC, k - p0);
            boolean add = p0 > 0;
            for (int jr = 0; jr < cols; jr += nr) {
                boolean edge = jr >= full;
                float[] bp = edge ? s.edge : s.b;
                int bi = (edge ? 0 : jr * k) + p0 * nr, n = Math.min(nr, cols - jr);
                for (int ir = 0; ir < m; ir += mr) {
                    int ai = ir * k + p0 * mr;
                    if (ir == 0 && !edge)
                        ConvPointwiseMicro.kernelWidePacking(w, kc, ap, ai, x, xAt + jr + (long) p0 * ld, ld, bp, bi, s.tile);
                    else if (edge && narrowEdge) ConvPointwiseMicro.kernelOneVector(w, kc, ap, ai, bp, bi, s.tile);
                    else GemmMicro.kernelWide(w, kc, ap, ai, bp, bi, s.tile);
                    ConvGemm.writeBack(w, nr, s.tile, y, yAt + (long) ir * ld + jr, ld, Math.min(mr, m - ir), n, add);
                }
            }
            p0 += kc;
        } while (p0 < k);
    }

    /** Y = W . X per image (+ bias per Y channel); {@code bias} may be null. */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        int cx = g.cx(), cy = g.cy();
        float[] ap = packedWeights(ConvGemm.packedA(cy, cx));
        ConvGemm.packA(wt, 0, cx, false, cy, cx, ap, 0);
        product(w, g.n(), cy, cx, g.yPlane(), ap, x, y, bias);
    }

    /** X = W^T . Y per image (+ bias per X channel: the transposed forward); {@code bias} may be null. */
    static void data(Width w, ConvGeom g, MemorySegment y, MemorySegment wt, MemorySegment x, MemorySegment bias) {
        int cx = g.cx(), cy = g.cy();
        float[] ap = packedWeights(ConvGemm.packedA(cx, cy));
        ConvGemm.packA(wt, 0, cx, true, cx, cy, ap, 0);
        product(w, g.n(), cx, cy, g.xPlane(), ap, y, x, bias);
    }

    /** The calling thread's buffer for packed weights, at least {@code floats} long. */
    private static float[] packedWeights(int floats) {
        Scratch own = SCRATCH.get();
        if (own.a.length < floats) own.a = new float[floats];
        return own.a;
    }

    /**
     * For each of n images, dst_b (m x plane) = A (m x k, packed in {@code ap}) . src_b (k x plane), + bias[row] when
     * {@code bias} is not null; images are contiguous in src (k x plane each) and dst (m x plane each).
     */
    private static void product(Width w, int n, int m, int k, int plane, float[] ap, MemorySegment src, MemorySegment dst,
                                MemorySegment bias) {
        int nr = ConvGemm.nr(w);
        int nc = columns(k, plane, nr), blocks = Math.ceilDiv(plane, nc);
        CpuThreads.parallelFor(Math.multiplyExact(n, blocks), task -> {
            int b = task / blocks, j0 = task % blocks * nc, cols = Math.min(nc, plane - j0);
            Scratch s = SCRATCH.get();
            int bFloats = ConvGemm.packedB(k, nc, nr);
            if (s.b.length < bFloats) s.b = new float[bFloats];
            if (s.tile.length < ConvGemm.MR * nr) s.tile = new float[ConvGemm.MR * nr];
            long sb = (long) b * k * plane, db = (long) b * m * plane;
            if (FUSED && nr == 4 * w.floats().length()) {
                if (s.edge.length < k * nr) s.edge = new float[k * nr];
                fusedBlock(w, k, m, cols, ap, src, sb + j0, plane, s, dst, db + j0);
            } else {
                ConvGemm.packB(w, src, sb + j0, plane, k, cols, s.b);
                ConvGemm.multiply(w, m, cols, k, ap, 0, s.b, dst, db + j0, plane, false, s.tile);
            }
            if (bias != null)
                for (int o = 0; o < m; o++) VectorConv.addScalar(w, dst, db + (long) o * plane + j0, cols, bias.getAtIndex(F, o));
        });
    }
}
