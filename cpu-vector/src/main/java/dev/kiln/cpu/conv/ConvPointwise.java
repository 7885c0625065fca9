package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Forward of a {@link VectorConv#pointwise} convolution (1x1, stride 1, unpadded, one group) on loops of its own:
 * per image Y_b (cy x plane) = W (cy x cx) . X_b (cx x plane). W is packed once per call by the calling thread;
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
     * Y block (cy x cols at element {@code yAt}, row stride ld) = packed W times the cx x cols block of X at {@code xAt}:
     * depth chunks of ConvGemm.KC outer, B slivers, then A slivers, as ConvGemm.multiply, but a full sliver's first
     * A sliver reads it from X and packs it ({@link ConvPointwiseMicro#kernelWidePacking}); the last, partial sliver
     * is packed (zero-filled) into {@code s.edge} first. Same FMAs in the same order as the packed path.
     */
    private static void fusedBlock(Width w, int k, int m, int cols, float[] ap, MemorySegment x, long xAt, int ld, Scratch s,
                                   MemorySegment y, long yAt) {
        int nr = 4 * w.floats().length(), mr = ConvGemm.MR;
        int full = cols / nr * nr;
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
                    else GemmMicro.kernelWide(w, kc, ap, ai, bp, bi, s.tile);
                    ConvPointwiseMicro.writeBack(w, nr, s.tile, y, yAt + (long) ir * ld + jr, ld, Math.min(mr, m - ir), n, add);
                }
            }
            p0 += kc;
        } while (p0 < k);
    }

    /** Y = W . X per image (+ bias per Y channel); {@code bias} may be null. */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        int cx = g.cx(), cy = g.cy(), plane = g.yPlane(), nr = ConvGemm.nr(w);
        Scratch own = SCRATCH.get();
        int aFloats = ConvGemm.packedA(cy, cx);
        if (own.a.length < aFloats) own.a = new float[aFloats];
        float[] ap = own.a;
        ConvGemm.packA(wt, 0, cx, false, cy, cx, ap, 0);
        int nc = columns(cx, plane, nr), blocks = Math.ceilDiv(plane, nc);
        CpuThreads.parallelFor(Math.multiplyExact(g.n(), blocks), task -> {
            int b = task / blocks, j0 = task % blocks * nc, cols = Math.min(nc, plane - j0);
            Scratch s = SCRATCH.get();
            int bFloats = ConvGemm.packedB(cx, nc, nr);
            if (s.b.length < bFloats) s.b = new float[bFloats];
            if (s.tile.length < ConvGemm.MR * nr) s.tile = new float[ConvGemm.MR * nr];
            long xb = g.xBase(b, 0), yb = g.yBase(b, 0);
            if (FUSED && nr == 4 * w.floats().length()) {
                if (s.edge.length < cx * nr) s.edge = new float[cx * nr];
                fusedBlock(w, cx, cy, cols, ap, x, xb + j0, plane, s, y, yb + j0);
            } else {
                ConvGemm.packB(w, x, xb + j0, plane, cx, cols, s.b);
                ConvGemm.multiply(w, cy, cols, cx, ap, 0, s.b, y, yb + j0, plane, false, s.tile);
            }
            if (bias != null)
                for (int o = 0; o < cy; o++) VectorConv.addScalar(w, y, yb + (long) o * plane + j0, cols, bias.getAtIndex(F, o));
        });
    }
}
