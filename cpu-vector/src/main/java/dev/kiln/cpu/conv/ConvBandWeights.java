package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The weight map dW_g[o][p] = sum over images and output positions j of Y_g[o][j] . col[p][j], as dot products
 * along j: every col row p is a contiguous run of X's padded phase planes ({@link ConvBand}), and Y is copied
 * once per image to the same padded width (zeros in the extra columns), so both operands of every dot product
 * are contiguous and neither needs the transposition that packing for the GEMM would (for a first layer,
 * 25 weight columns and 32 channels, that transposition cost three times the arithmetic). A register tile of
 * 4 channels x 5 weight columns keeps 20 vector accumulators, loading 9 vectors per 20 FMAs; at the end of
 * each block of j the tile's lanes are added into a per-task buffer of lane partial sums, reduced in lane
 * order once per task.
 *
 * <p>Images are cut into {@link #CHUNKS} fixed runs per group (one task each; the sum over images of a run
 * is in image order), and dW is the sum of the runs' results in run order: the order of every sum depends
 * on the descriptor and the vector width only, never on the thread count.
 */
final class ConvBandWeights {
    private ConvBandWeights() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Image runs per group: tasks for a few cores, a few partial results to add. */
    static final int CHUNKS = 4;
    /** Floats of j per block: 5 col rows (20 KiB) stay in a 48 KiB L1 while the channel tiles stream past. */
    private static final int JBLOCK = 1024;
    private static final int TO = 4, TP = 5;

    private static final class Scratch {
        float[] band = new float[0], dy = new float[0], acc = new float[0];
        int[] starts = new int[0];

        Scratch ensure(int bandFloats, int dyFloats, int accFloats, int kdim) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (dy.length < dyFloats) dy = new float[dyFloats];
            if (acc.length < accFloats) acc = new float[accFloats];
            if (starts.length < kdim) starts = new int[kdim];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Per-task scratch limit in floats (band of one image, lane partials): beyond it the GEMM path is used. */
    private static final long MAX_SCRATCH = 4L << 20;

    /**
     * Above this many weight columns (channels x taps) the GEMM path is used: its packing is then amortised
     * over enough columns, and measured alternating in one process it ran 1.04x (3x3 on 64 channels, 576
     * columns) and 1.19x (1x1 on 256) this path's rate, while this path ran 3.5x the GEMM's on a first layer
     * (25 columns) and 1.5x on a 7x7 stem (147).
     */
    static final int MAX_COLUMNS = 255;

    /** Whether this path takes {@code g}: few weight columns, little padded width, one image's scratch within the limit. */
    static boolean applies(ConvGeom g, Width w) {
        if (g.kdim() > MAX_COLUMNS) return false;
        int wph = ConvBand.wph(g), l = w.floats().length();
        long band = (long) g.cxg() * g.sh() * g.sw() * (g.hy() + g.r() * g.dh() / g.sh() + 2 + l / wph) * wph;
        return ConvBand.applies(g) && band <= MAX_SCRATCH && (long) g.cyg() * g.kdim() * l <= MAX_SCRATCH
                && (long) g.cyg() * (g.hy() * wph + l) <= MAX_SCRATCH;
    }

    /** dW (cy x kdim, per group) from X and Y, overwritten. */
    static void weights(Width w, ConvGeom g, MemorySegment x, MemorySegment y, MemorySegment dw) {
        int l = w.floats().length(), wph = ConvBand.wph(g), hy = g.hy(), wy = g.wy(), kdim = g.kdim(), cyg = g.cyg();
        int maxDi = (g.r() - 1) * g.dh() / g.sh(), maxDj = (g.s() - 1) * g.dw() / g.sw();
        int jn = hy * wph, jPad = Math.ceilDiv(jn, l) * l;
        int planeRows = hy + maxDi + Math.ceilDiv(maxDj + l, wph), planeFloats = planeRows * wph;
        int perChunk = Math.ceilDiv(g.n(), Math.min(g.n(), CHUNKS)), chunks = Math.ceilDiv(g.n(), perChunk);
        int phases = g.sh() * g.sw(), result = cyg * kdim;
        float[] partial = new float[g.groups() * chunks * result];
        CpuThreads.parallelFor(g.groups() * chunks, task -> {
            int grp = task / chunks, c = task % chunks;
            Scratch s = SCRATCH.get().ensure(g.cxg() * phases * planeFloats, cyg * jPad, result * l, kdim);
            Arrays.fill(s.acc, 0, result * l, 0f);
            for (int p = 0; p < kdim; p++) {
                int ci = p / (g.r() * g.s()), ry = p / g.s() % g.r(), sx = p % g.s(), vr = ry * g.dh(), vs = sx * g.dw();
                s.starts[p] = ((ci * g.sh() + vr % g.sh()) * g.sw() + vs % g.sw()) * planeFloats + (vr / g.sh()) * wph + vs / g.sw();
            }
            for (int b = c * perChunk; b < Math.min(g.n(), (c + 1) * perChunk); b++) {
                ConvBand.fillBand(w, g, x, g.xBase(b, grp), 0, planeRows, wph, planeFloats, s.band);
                padY(g, y, g.yBase(b, grp), wph, jPad, s.dy);
                for (int j0 = 0; j0 < jPad; j0 += JBLOCK) {
                    int len = Math.min(JBLOCK, jPad - j0);
                    for (int p0 = 0; p0 < kdim; p0 += TP) {
                        int np = Math.min(TP, kdim - p0);
                        for (int o0 = 0; o0 < cyg; o0 += TO) {
                            int no = Math.min(TO, cyg - o0);
                            if (no == TO && np == TP) tile4x5(w, s, kdim, p0, o0, j0, len, jPad);
                            else for (int o = o0; o < o0 + no; o++) for (int p = p0; p < p0 + np; p++) tile1x1(w, s, kdim, p, o, j0, len, jPad);
                        }
                    }
                }
            }
            int out = task * result;
            for (int i = 0; i < result; i++) { // lane order
                float sum = 0;
                for (int k = 0; k < l; k++) sum += s.acc[i * l + k];
                partial[out + i] = sum;
            }
        });
        for (int grp = 0; grp < g.groups(); grp++)
            for (int i = 0; i < result; i++) {
                float sum = partial[grp * chunks * result + i];
                for (int c = 1; c < chunks; c++) sum += partial[(grp * chunks + c) * result + i];
                dw.setAtIndex(F, (long) grp * result + i, sum);
            }
    }

    /** Y_g (cyg x hy x wy at {@code yb}) into rows of jPad floats, wph per output row, zeros elsewhere. */
    private static void padY(ConvGeom g, MemorySegment y, long yb, int wph, int jPad, float[] dst) {
        int wy = g.wy(), hy = g.hy();
        for (int o = 0; o < g.cyg(); o++) {
            int row = o * jPad;
            for (int oy = 0; oy < hy; oy++) {
                int d = row + oy * wph;
                MemorySegment.copy(y, F, (yb + (long) o * g.yPlane() + (long) oy * wy) * 4, dst, d, wy);
                Arrays.fill(dst, d + wy, d + wph, 0f);
            }
            Arrays.fill(dst, row + hy * wph, row + jPad, 0f);
        }
    }

    /** Channels o0..o0+3 x weight columns p0..p0+4 over j0..j0+len: 20 accumulators, then into the lane partials. */
    private static void tile4x5(Width w, Scratch s, int kdim, int p0, int o0, int j0, int len, int jPad) {
        var sp = w.floats();
        int l = sp.length();
        float[] band = s.band, dy = s.dy, acc = s.acc;
        int b0 = s.starts[p0] + j0, b1 = s.starts[p0 + 1] + j0, b2 = s.starts[p0 + 2] + j0, b3 = s.starts[p0 + 3] + j0,
            b4 = s.starts[p0 + 4] + j0;
        int d0 = o0 * jPad + j0;
        FloatVector z = FloatVector.zero(sp);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c04 = z, c10 = z, c11 = z, c12 = z, c13 = z, c14 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c24 = z, c30 = z, c31 = z, c32 = z, c33 = z, c34 = z;
        for (int j = 0; j < len; j += l) {
            FloatVector x0 = FloatVector.fromArray(sp, band, b0 + j), x1 = FloatVector.fromArray(sp, band, b1 + j);
            FloatVector x2 = FloatVector.fromArray(sp, band, b2 + j), x3 = FloatVector.fromArray(sp, band, b3 + j);
            FloatVector x4 = FloatVector.fromArray(sp, band, b4 + j);
            FloatVector y0 = FloatVector.fromArray(sp, dy, d0 + j);
            c00 = y0.fma(x0, c00); c01 = y0.fma(x1, c01); c02 = y0.fma(x2, c02); c03 = y0.fma(x3, c03); c04 = y0.fma(x4, c04);
            y0 = FloatVector.fromArray(sp, dy, d0 + jPad + j);
            c10 = y0.fma(x0, c10); c11 = y0.fma(x1, c11); c12 = y0.fma(x2, c12); c13 = y0.fma(x3, c13); c14 = y0.fma(x4, c14);
            y0 = FloatVector.fromArray(sp, dy, d0 + 2 * jPad + j);
            c20 = y0.fma(x0, c20); c21 = y0.fma(x1, c21); c22 = y0.fma(x2, c22); c23 = y0.fma(x3, c23); c24 = y0.fma(x4, c24);
            y0 = FloatVector.fromArray(sp, dy, d0 + 3 * jPad + j);
            c30 = y0.fma(x0, c30); c31 = y0.fma(x1, c31); c32 = y0.fma(x2, c32); c33 = y0.fma(x3, c33); c34 = y0.fma(x4, c34);
        }
        int a = (o0 * kdim + p0) * l, row = kdim * l;
        add(w, acc, a, c00); add(w, acc, a + l, c01); add(w, acc, a + 2 * l, c02); add(w, acc, a + 3 * l, c03); add(w, acc, a + 4 * l, c04);
        a += row;
        add(w, acc, a, c10); add(w, acc, a + l, c11); add(w, acc, a + 2 * l, c12); add(w, acc, a + 3 * l, c13); add(w, acc, a + 4 * l, c14);
        a += row;
        add(w, acc, a, c20); add(w, acc, a + l, c21); add(w, acc, a + 2 * l, c22); add(w, acc, a + 3 * l, c23); add(w, acc, a + 4 * l, c24);
        a += row;
        add(w, acc, a, c30); add(w, acc, a + l, c31); add(w, acc, a + 2 * l, c32); add(w, acc, a + 3 * l, c33); add(w, acc, a + 4 * l, c34);
    }

    /** One channel x one weight column (the tile edges): two accumulators. */
    private static void tile1x1(Width w, Scratch s, int kdim, int p, int o, int j0, int len, int jPad) {
        var sp = w.floats();
        int l = sp.length(), b = s.starts[p] + j0, d = o * jPad + j0;
        FloatVector c0 = FloatVector.zero(sp);
        for (int j = 0; j < len; j += l) c0 = FloatVector.fromArray(sp, s.dy, d + j).fma(FloatVector.fromArray(sp, s.band, b + j), c0);
        add(w, s.acc, (o * kdim + p) * l, c0);
    }

    private static void add(Width w, float[] acc, int at, FloatVector v) {
        FloatVector.fromArray(w.floats(), acc, at).add(v).intoArray(acc, at);
    }
}
