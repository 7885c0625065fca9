package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The forward map Y = W . im2col(X) without building im2col or packing it: X is first copied, one band of
 * output rows at a time, into zero-padded "phase planes" (for stride sh x sw, plane (a, b) of channel ci holds
 * X[ci][i*sh + a - ph][j*sw + b - pw], rows {@link #wph} wide), in which every im2col row is one contiguous
 * run: tap (ry, sx) reads plane ((ry*dh) % sh, (sx*dw) % sw) from offset ((ry*dh)/sh)*wph + (sx*dw)/sw. The
 * microkernel ({@link ConvMicro}) reads B straight from those runs through a table of row starts, and the GEMM
 * computes wph columns per output row instead of wy; the (wph - wy) extra columns per row, a few percent for
 * the usual shapes, are computed and dropped when the tile is written into Y.
 *
 * <p>Why: with im2col the copy-in (short runs, edge zeroing per row and tap) plus the packing took 40% of the
 * time of a 3x3 C64->K64 56x56 forward while the GEMM itself ran at 80% of the FMA peak; copying the band and
 * then packing B from it still took ~20%, and the result's pass through scratch ~7% (more for a 7x7 stem).
 * Now the only copy is the band (about 1/taps of im2col), and tiles go straight into Y. A sliver of A stays
 * in L1 while the band's runs stream from L2 (A slivers outer, as in the GEMM driver); the depth is one
 * panel up to {@link #KC_MAX}, so Y is written once. Tasks are (image, group, band of output rows), a
 * function of the descriptor and the vector width only, and every output element is one task's: results do
 * not depend on the thread count.
 */
final class ConvBand {
    private ConvBand() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Most floats of one band's phase planes: 256 KiB, a quarter of a 1 MiB L2, beside the weights streaming past. */
    private static final int BAND_FLOATS = 64 * 1024;
    /** Longest depth panel: the A sliver (6 rows) then takes 24 KiB, half of a 48 KiB L1 (the GEMM's rule). */
    static final int KC_MAX = 1024;

    /** Width of a phase-plane row: the output width plus the largest column offset of a tap. */
    static int wph(ConvGeom g) { return g.wy() + (g.s() - 1) * g.dw() / g.sw(); }

    /** Whether the padded width wastes little: the dropped columns are at most a quarter of the computed ones. */
    static boolean applies(ConvGeom g) { return 4 * (wph(g) - g.wy()) <= wph(g); }

    /**
     * Below this GEMM depth (channels x taps) the forward keeps im2col: with a depth of 25 (a first layer's 5x5
     * on one channel) each microkernel call does 25 steps, and the band path ran at 0.82x the im2col path's
     * rate (measured alternating in one process, with packed B); 7x7 on 3 channels, depth 147, ran 1.69x faster here.
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

    /** Depth panel length: k cut into equal panels of at most {@link #KC_MAX}. */
    static int kc(int k) { return Math.max(1, Math.ceilDiv(k, Math.ceilDiv(Math.max(k, 1), KC_MAX))); }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] band = new float[0], tile = new float[0];

        Scratch ensure(int bandFloats, int tileFloats) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** The packed weights of one call, on the calling thread (tasks only read them). */
    private static final ThreadLocal<float[][]> PACKED_W = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * Output rows per band: the count, up to what fits {@link #BAND_FLOATS}, that minimises the GEMM's columns
     * rounded up to whole slivers (a 56-wide output with 58-wide rows: 14 rows give 812 columns, 13 slivers of 64
     * with 20 wasted; a bad count wastes 10%) plus the copying of the rows that neighbouring bands share.
     */
    static int bandRows(ConvGeom g, int nr) {
        int wph = wph(g), maxDi = (g.r() - 1) * g.dh() / g.sh();
        long rowFloats = (long) g.cxg() * g.sh() * g.sw() * wph;
        int maxRows = (int) Math.max(1, Math.min(g.hy(), BAND_FLOATS / rowFloats - maxDi));
        long gemmPerCol = (long) g.kdim() * (Math.ceilDiv(g.cyg(), ConvGemm.MR) * ConvGemm.MR);
        int best = 1;
        long bestCost = Long.MAX_VALUE;
        for (int rows = 1; rows <= maxRows; rows++) {
            int bands = Math.ceilDiv(g.hy(), rows), last = g.hy() - (bands - 1) * rows;
            long cols = (long) (bands - 1) * Math.ceilDiv(rows * wph, nr) * nr + (long) Math.ceilDiv(last * wph, nr) * nr;
            // a copied float costs about as much as 4 lanes of FMA work
            long cost = cols * gemmPerCol + 4L * bands * (rows + maxDi) * rowFloats;
            if (cost <= bestCost) {
                bestCost = cost;
                best = rows;
            }
        }
        return best;
    }

    /**
     * Y = fwd(X, W) (+ bias per Y channel); {@code wt} holds W (per group, cyg rows of kdim, row-major) from
     * element {@code wBase}.
     */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, long wBase, MemorySegment y, MemorySegment bias) {
        int wph = wph(g), kdim = g.kdim(), cyg = g.cyg(), nr = ConvMicro.nr(w), kc = kc(kdim);
        int aStride = ConvGemm.packedA(cyg, kdim);
        float[][] holder = PACKED_W.get();
        if (holder[0].length < aStride * g.groups()) holder[0] = new float[aStride * g.groups()];
        float[] ap = holder[0];
        for (int grp = 0; grp < g.groups(); grp++)
            ConvGemm.packA(wt, wBase + (long) grp * cyg * kdim, kdim, false, cyg, kdim, kc, ap, grp * aStride);
        float[] biasValues = new float[bias == null ? 0 : g.cy()];
        for (int i = 0; i < biasValues.length; i++) biasValues[i] = bias.getAtIndex(F, i);
        int maxDi = (g.r() - 1) * g.dh() / g.sh(), maxDj = (g.s() - 1) * g.dw() / g.sw();
        int rows = bandRows(g, nr), bands = Math.ceilDiv(g.hy(), rows);
        // rows of a phase plane: the band, the taps' row reach, and enough for a last sliver's overrun
        int planeRows = rows + maxDi + Math.ceilDiv(maxDj + nr, wph), planeFloats = planeRows * wph;
        int[] rowAt = rowStarts(g, planeFloats, wph);
        int phases = g.sh() * g.sw(), perImage = g.groups() * bands;
        CpuThreads.parallelFor(g.n() * perImage, task -> {
            int b = task / perImage, grp = task % perImage / bands, oy0 = task % bands * rows, nrows = Math.min(rows, g.hy() - oy0);
            int cols = nrows * wph;
            Scratch s = SCRATCH.get().ensure(g.cxg() * phases * planeFloats, ConvGemm.MR * nr + wph + nr);
            // rows past nrows + maxDi feed only dropped columns (the last sliver's overrun): left as they are
            fillBand(w, g, x, g.xBase(b, grp), oy0, nrows + maxDi, wph, planeFloats, s.band);
            long yb = g.yBase(b, grp) + (long) oy0 * g.wy();
            for (int p0 = 0; p0 < kdim; p0 += kc) {
                int depth = Math.min(kc, kdim - p0);
                for (int ir = 0; ir < cyg; ir += ConvGemm.MR) {
                    int mrows = Math.min(ConvGemm.MR, cyg - ir), ai = grp * aStride + ir * kdim + p0 * ConvGemm.MR;
                    long yRow = yb + (long) ir * g.yPlane();
                    int biasAt = biasValues.length == 0 || p0 > 0 ? -1 : grp * cyg + ir;
                    for (int jr = 0; jr < cols; jr += nr) {
                        ConvMicro.tile(w, depth, ap, ai, s.band, rowAt, p0, jr, s.tile);
                        writeTile(w, s.tile, nr, mrows, jr, cols, wph, g.wy(), y, yRow, g.yPlane(), p0 > 0, biasValues, biasAt);
                    }
                }
            }
        });
    }

    /** Where im2col row p = (ci, ry, sx) starts in the band: its phase plane and the tap's offset in it. */
    static int[] rowStarts(ConvGeom g, int planeFloats, int wph) {
        int[] at = new int[g.kdim()];
        for (int p = 0; p < at.length; p++) {
            int ci = p / (g.r() * g.s()), ry = p / g.s() % g.r(), sx = p % g.s(), vr = ry * g.dh(), vs = sx * g.dw();
            at[p] = ((ci * g.sh() + vr % g.sh()) * g.sw() + vs % g.sw()) * planeFloats + (vr / g.sh()) * wph + vs / g.sw();
        }
        return at;
    }

    /**
     * Writes rows x nr of the tile (band columns jr.. of channels from {@code yRow}, the element of Y at the
     * band's first output row) into Y: band column c is output (c / wph, c % wph), dropped when c % wph >= wy
     * or c >= cols. {@code add}: Y += tile; else Y = tile (+ bias[biasAt + r] when biasAt >= 0). Whole vectors
     * that fall inside an output row go as vectors, the rest lane by lane with the same single rounding.
     */
    private static void writeTile(Width w, float[] tile, int nr, int rows, int jr, int cols, int wph, int wy, MemorySegment y,
                                  long yRow, int plane, boolean add, float[] bias, int biasAt) {
        var sp = w.floats();
        int l = sp.length(), i0 = jr / wph, jj0 = jr - i0 * wph; // one division per tile: per lane they cost 10% of the pass
        for (int r = 0; r < rows; r++) {
            long chan = yRow + (long) r * plane;
            float bv = biasAt >= 0 ? bias[biasAt + r] : 0f;
            FloatVector bvec = FloatVector.broadcast(sp, bv);
            int i = i0, jj = jj0;
            for (int v = 0; v < nr && jr + v < cols; v += l) {
                int t = r * nr + v;
                if (jj + l <= wy) {
                    long off = (chan + (long) i * wy + jj) * 4;
                    FloatVector acc = FloatVector.fromArray(sp, tile, t);
                    if (add) acc = FloatVector.fromMemorySegment(sp, y, off, NATIVE).add(acc);
                    else if (biasAt >= 0) acc = acc.add(bvec);
                    acc.intoMemorySegment(y, off, NATIVE);
                } else if (wph >= 2 * l && jr + v + l <= cols) {
                    // the vector crosses the end of output row i: lanes [0, wy - jj) go to row i, lanes from
                    // wph - jj (the next row's first column) to row i + 1, each as one masked store
                    if (jj < wy) store(sp, tile, t, y, chan + (long) i * wy + jj, wy - jj, add, biasAt >= 0, bvec);
                    if (wph - jj < l) store(sp, tile, t + wph - jj, y, chan + (long) (i + 1) * wy, l - (wph - jj), add, biasAt >= 0, bvec);
                } else {
                    for (int e = 0, ii = i, j = jj; e < l && jr + v + e < cols; e++) {
                        if (j < wy) {
                            long at = chan + (long) ii * wy + j;
                            float val = tile[t + e];
                            if (add) val = y.getAtIndex(F, at) + val;
                            else if (biasAt >= 0) val = val + bv;
                            y.setAtIndex(F, at, val);
                        }
                        if (++j == wph) {
                            j = 0;
                            ii++;
                        }
                    }
                }
                for (jj += l; jj >= wph; jj -= wph) i++;
            }
        }
    }

    /** The first {@code count} lanes of tile[from ..] into Y at element {@code at} (added to Y, or plus the bias), masked. */
    private static void store(VectorSpecies<Float> sp, float[] tile, int from, MemorySegment y, long at, int count, boolean add,
                              boolean withBias, FloatVector bias) {
        VectorMask<Float> m = VectorMask.fromLong(sp, (1L << count) - 1);
        long off = at * 4;
        FloatVector acc = FloatVector.fromArray(sp, tile, from, m);
        if (add) acc = FloatVector.fromMemorySegment(sp, y, off, NATIVE, m).add(acc);
        else if (withBias) acc = acc.add(bias);
        acc.intoMemorySegment(y, off, NATIVE, m);
    }

    /**
     * Phase planes of X_g (at {@code xb}) for phase rows oy0 .. oy0 + rows, zero outside X; each plane takes
     * {@code planeFloats} of the band, of which rows x wph are written.
     */
    static void fillBand(Width w, ConvGeom g, MemorySegment x, long xb, int oy0, int rows, int wph, int planeFloats, float[] band) {
        int sh = g.sh(), sw = g.sw(), hx = g.hx(), wx = g.wx();
        if (sh == 1 && sw == 1 && g.ph() == 0 && g.pw() == 0 && wph == wx) { // rows of X are rows of the plane: one run per channel
            int in = Math.max(0, Math.min(rows, hx - oy0));
            for (int ci = 0, d = 0; ci < g.cxg(); ci++, d += planeFloats) {
                copyRun(w, x, xb + (long) ci * g.xPlane() + (long) oy0 * wx, band, d, in * wx);
                Arrays.fill(band, d + in * wx, d + rows * wx, 0f);
            }
            return;
        }
        if (sh == 1 && sw == 1) {
            fillStrideOne(g, x, xb, oy0, rows, wph, planeFloats, band);
            return;
        }
        for (int ci = 0, d = 0; ci < g.cxg(); ci++) {
            long plane = xb + (long) ci * g.xPlane();
            for (int a = 0; a < sh; a++)
                for (int bph = 0; bph < sw; bph++, d += planeFloats) {
                    // columns j with 0 <= j*sw + bph - pw < wx
                    int off = bph - g.pw(), lo = Math.min(wph, Math.max(0, Math.ceilDiv(-off, sw))),
                        hi = Math.max(lo, Math.min(wph, Math.floorDiv(wx - 1 - off, sw) + 1));
                    for (int ii = 0; ii < rows; ii++) {
                        int iy = (oy0 + ii) * sh + a - g.ph(), row = d + ii * wph;
                        if (iy < 0 || iy >= hx) {
                            Arrays.fill(band, row, row + wph, 0f);
                            continue;
                        }
                        long src = plane + (long) iy * wx + off;
                        for (int j = 0; j < lo; j++) band[row + j] = 0f;
                        if (sw == 1) copyRun(w, x, src + lo, band, row + lo, hi - lo);
                        else if (sw == 2) evenRun(w, x, src + 2L * lo, band, row + lo, hi - lo);
                        else for (int j = lo; j < hi; j++) band[row + j] = x.getAtIndex(F, src + (long) j * sw);
                        for (int j = hi; j < wph; j++) band[row + j] = 0f;
                    }
                }
        }
    }

    /** Per-thread copy of a block of X rows ({@link #fillStrideOne}). */
    private static final ThreadLocal<float[][]> ROWS = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * {@link #fillBand} for stride 1: per channel the band's X rows, contiguous in X, come over in one bulk copy
     * and are then spread to the plane's wider rows by array copies. Row by row from X (vector copies out of the
     * segment) took 6-7% more of a 3x3 C64 56x56 forward (thread CPU time, alternating in one process).
     */
    private static void fillStrideOne(ConvGeom g, MemorySegment x, long xb, int oy0, int rows, int wph, int planeFloats, float[] band) {
        int hx = g.hx(), wx = g.wx(), off = -g.pw(), lo = Math.min(wph, Math.max(0, -off)), hi = Math.max(lo, Math.min(wph, wx - off));
        int iyA = Math.min(hx, Math.max(0, oy0 - g.ph())), iyB = Math.max(iyA, Math.min(hx, oy0 + rows - g.ph()));
        float[][] holder = ROWS.get();
        if (holder[0].length < (iyB - iyA) * wx) holder[0] = new float[(iyB - iyA) * wx];
        float[] block = holder[0];
        for (int ci = 0, d = 0; ci < g.cxg(); ci++, d += planeFloats) {
            if (iyB > iyA) MemorySegment.copy(x, F, (xb + (long) ci * g.xPlane() + (long) iyA * wx) * 4, block, 0, (iyB - iyA) * wx);
            for (int ii = 0; ii < rows; ii++) {
                int iy = oy0 + ii - g.ph(), row = d + ii * wph;
                if (iy < iyA || iy >= iyB) {
                    Arrays.fill(band, row, row + wph, 0f);
                    continue;
                }
                for (int j = 0; j < lo; j++) band[row + j] = 0f;
                System.arraycopy(block, (iy - iyA) * wx + off + lo, band, row + lo, hi - lo);
                for (int j = hi; j < wph; j++) band[row + j] = 0f;
            }
        }
    }

    /**
     * dst[at .. at+count) = x[from .. from+count): vectors, the last one overlapping the one before (a bulk
     * MemorySegment.copy per row of 56 floats cost more in call overhead than the copy itself).
     */
    private static void copyRun(Width w, MemorySegment x, long from, float[] dst, int at, int count) {
        var sp = w.floats();
        int l = sp.length();
        if (count < l) {
            for (int j = 0; j < count; j++) dst[at + j] = x.getAtIndex(F, from + j);
            return;
        }
        for (int j = 0; ; j += l) {
            int k = Math.min(j, count - l);
            FloatVector.fromMemorySegment(sp, x, (from + k) * 4, NATIVE).intoArray(dst, at + k);
            if (k == count - l) return;
        }
    }

    /** dst[at + j] = x[from + 2j] for j in [0, count): two vectors, even lanes picked (a stride-2 phase plane). */
    private static void evenRun(Width w, MemorySegment x, long from, float[] dst, int at, int count) {
        var sp = w.floats();
        int l = sp.length();
        // the second vector reads one float past the last one used: only where that stays inside X
        if (count < l || (from + 2L * count) * 4 > x.byteSize()) {
            for (int j = 0; j < count; j++) dst[at + j] = x.getAtIndex(F, from + 2L * j);
            return;
        }
        FloatVector even = FloatVector.zero(sp).addIndex(2);
        for (int j = 0; ; j += l) {
            int k = Math.min(j, count - l);
            long byteAt = (from + 2L * k) * 4;
            FloatVector lo = FloatVector.fromMemorySegment(sp, x, byteAt, NATIVE);
            FloatVector hi = FloatVector.fromMemorySegment(sp, x, byteAt + 4L * l, NATIVE);
            even.selectFrom(lo, hi).intoArray(dst, at + k);
            if (k == count - l) return;
        }
    }
}
