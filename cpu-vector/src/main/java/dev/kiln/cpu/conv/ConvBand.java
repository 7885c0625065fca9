package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The forward map Y = W . im2col(X) without building im2col: X is first copied, one band of output rows at a
 * time, into zero-padded "phase planes" (for stride sh x sw, plane (a, b) of channel ci holds X[ci][i*sh + a -
 * ph][j*sw + b - pw], rows {@link #wph} wide), in which every im2col row is one contiguous run: tap (ry, sx)
 * reads plane ((ry*dh) % sh, (sx*dw) % sw) from offset ((ry*dh)/sh)*wph + (sx*dw)/sw. The GEMM's packed B is
 * then built by straight vector copies of nr floats, and the GEMM computes wph columns per output row instead
 * of wy; the (wph - wy) extra columns per row, a few percent for the usual shapes, are computed and dropped.
 *
 * <p>Why: with im2col the copy-in (short runs, edge zeroing per row and tap) plus the packing took 40% of the
 * time of a 3x3 C64->K64 56x56 forward while the GEMM itself ran at 80% of the FMA peak. Here both are one
 * pass of vector copies. Tasks are (image, group, band of output rows), a function of the descriptor and the
 * vector width only, and the GEMM's depth order is that of {@link ConvGemm}: results do not depend on the
 * thread count.
 */
final class ConvBand {
    private ConvBand() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Target floats of one band's packed B (512 KiB: half of a 1 MiB L2, the GEMM's panel budget). */
    private static final int PANEL_FLOATS = 128 * 1024;

    /** Width of a phase-plane row: the output width plus the largest column offset of a tap. */
    static int wph(ConvGeom g) { return g.wy() + (g.s() - 1) * g.dw() / g.sw(); }

    /** Whether the padded width wastes little: the dropped columns are at most a quarter of the computed ones. */
    static boolean applies(ConvGeom g) { return 4 * (wph(g) - g.wy()) <= wph(g); }

    /**
     * Below this GEMM depth (channels x taps) the forward keeps im2col: with a depth of 25 (a first layer's 5x5
     * on one channel) each microkernel call does 25 steps, and the extra pass of the result through this
     * class's scratch cost more than the copies it saves (0.82x the im2col path's rate, measured alternating
     * in one process; 7x7 on 3 channels, depth 147, ran 1.69x faster here).
     */
    static final int MIN_DEPTH = 48;

    /**
     * Whether the forward map of {@code g} runs here: also not when the phase planes of even a one-row band
     * (all channels of a group, the taps' row reach) would pass 2^28 floats, which only huge dilations reach.
     */
    static boolean forwardApplies(ConvGeom g) {
        long reach = (long) (g.r() - 1) * g.dh() / g.sh() + 3;
        return applies(g) && g.kdim() >= MIN_DEPTH && (long) g.cxg() * g.sh() * g.sw() * reach * wph(g) <= 1 << 28;
    }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] band = new float[0], bp = new float[0], c = new float[0], tile = new float[0];
        MemorySegment cSeg = MemorySegment.ofArray(c);

        Scratch ensure(int bandFloats, int bpFloats, int cFloats, int tileFloats) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (bp.length < bpFloats) bp = new float[bpFloats];
            if (c.length < cFloats) cSeg = MemorySegment.ofArray(c = new float[cFloats]);
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Y = fwd(X, W) (+ bias per Y channel); {@code ap} holds W packed per group at {@code aStride}. */
    static void fwd(Width w, ConvGeom g, MemorySegment x, float[] ap, int aStride, MemorySegment y, MemorySegment bias) {
        int wph = wph(g), kdim = g.kdim(), cyg = g.cyg(), nr = ConvGemm.nr(w);
        int maxDi = (g.r() - 1) * g.dh() / g.sh(), maxDj = (g.s() - 1) * g.dw() / g.sw();
        int rows = Math.max(1, Math.min(g.hy(), PANEL_FLOATS / kdim / wph)), bands = Math.ceilDiv(g.hy(), rows);
        int maxCols = Math.ceilDiv(rows * wph, nr) * nr;
        // rows of a phase plane: the band, the taps' row reach, and enough for a last sliver's overrun
        int planeRows = rows + maxDi + Math.ceilDiv(maxDj + nr, wph), planeFloats = planeRows * wph;
        int phases = g.sh() * g.sw(), perImage = g.groups() * bands;
        CpuThreads.parallelFor(g.n() * perImage, task -> {
            int b = task / perImage, grp = task % perImage / bands, oy0 = task % bands * rows, nrows = Math.min(rows, g.hy() - oy0);
            int cols = nrows * wph, colsPad = Math.ceilDiv(cols, nr) * nr;
            Scratch s = SCRATCH.get().ensure(g.cxg() * phases * planeFloats, ConvGemm.packedB(kdim, maxCols, nr), cyg * maxCols,
                    ConvGemm.MR * nr);
            fillBand(g, x, g.xBase(b, grp), oy0, planeRows, wph, planeFloats, s.band);
            packB(w, g, s.band, planeFloats, wph, colsPad, nr, s.bp);
            ConvGemm.multiply(w, cyg, cols, kdim, ap, grp * aStride, s.bp, s.cSeg, 0, cols, false, s.tile);
            long yb = g.yBase(b, grp);
            int plane = g.yPlane(), wy = g.wy();
            for (int o = 0; o < cyg; o++) {
                float bv = bias == null ? 0f : bias.getAtIndex(F, (long) grp * cyg + o);
                for (int i = 0; i < nrows; i++)
                    copyRow(w, s.c, o * cols + i * wph, y, yb + (long) o * plane + (long) (oy0 + i) * wy, wy, bias != null, bv);
            }
        });
    }

    /** Phase planes of X_g (at {@code xb}) for phase rows oy0 .. oy0 + planeRows, zero outside X. */
    static void fillBand(ConvGeom g, MemorySegment x, long xb, int oy0, int planeRows, int wph, int planeFloats, float[] band) {
        int sh = g.sh(), sw = g.sw(), hx = g.hx(), wx = g.wx();
        for (int ci = 0, d = 0; ci < g.cxg(); ci++) {
            long plane = xb + (long) ci * g.xPlane();
            for (int a = 0; a < sh; a++)
                for (int bph = 0; bph < sw; bph++, d += planeFloats) {
                    // columns j with 0 <= j*sw + bph - pw < wx
                    int off = bph - g.pw(), lo = Math.min(wph, Math.max(0, Math.ceilDiv(-off, sw))),
                        hi = Math.max(lo, Math.min(wph, Math.floorDiv(wx - 1 - off, sw) + 1));
                    for (int ii = 0; ii < planeRows; ii++) {
                        int iy = (oy0 + ii) * sh + a - g.ph(), row = d + ii * wph;
                        if (iy < 0 || iy >= hx) {
                            Arrays.fill(band, row, row + wph, 0f);
                            continue;
                        }
                        long src = plane + (long) iy * wx + off;
                        Arrays.fill(band, row, row + lo, 0f);
                        if (sw == 1) {
                            if (hi > lo) MemorySegment.copy(x, F, (src + lo) * 4, band, row + lo, hi - lo);
                        } else {
                            for (int j = lo; j < hi; j++) band[row + j] = x.getAtIndex(F, src + (long) j * sw);
                        }
                        Arrays.fill(band, row + hi, row + wph, 0f);
                    }
                }
        }
    }

    /** Packed B (depth kdim, colsPad columns in slivers of nr): row (ci, ry, sx) is a contiguous run of its phase plane. */
    private static void packB(Width w, ConvGeom g, float[] band, int planeFloats, int wph, int colsPad, int nr, float[] bp) {
        var sp = w.floats();
        int l = sp.length(), kdim = g.kdim(), sh = g.sh(), sw = g.sw();
        for (int p = 0; p < kdim; p++) {
            int ci = p / (g.r() * g.s()), ry = p / g.s() % g.r(), sx = p % g.s();
            int vr = ry * g.dh(), vs = sx * g.dw();
            int src = ((ci * sh + vr % sh) * sw + vs % sw) * planeFloats + (vr / sh) * wph + vs / sw;
            for (int j0 = 0, d = p * nr; j0 < colsPad; j0 += nr, d += kdim * nr)
                for (int j = 0; j < nr; j += l) FloatVector.fromArray(sp, band, src + j0 + j).intoArray(bp, d + j);
        }
    }

    /** y[at .. at+count) = c[from ..] (+ bias), vector body and scalar tail rounding alike. */
    private static void copyRow(Width w, float[] c, int from, MemorySegment y, long at, int count, boolean addBias, float bias) {
        var sp = w.floats();
        int l = sp.length(), i = 0;
        FloatVector bv = FloatVector.broadcast(sp, bias);
        for (; i <= count - l; i += l) {
            FloatVector v = FloatVector.fromArray(sp, c, from + i);
            if (addBias) v = v.add(bv);
            v.intoMemorySegment(y, (at + i) * 4, NATIVE);
        }
        for (; i < count; i++) y.setAtIndex(F, at + i, addBias ? c[from + i] + bias : c[from + i]);
    }
}
