package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The data map X = data(Y, W) as the adjoint of {@link ConvBand}'s forward, for the strided convolutions the
 * turned-kernel forward ({@link VectorConv}'s dataAsForward) cannot take: per (image, group), col = W_g^T . Y_g
 * band by band (B = Y rows padded to the phase-plane width, read in place by {@link ConvMicro#tile} through a
 * table of row starts), and each tile of col is added straight into X's zero-initialised phase planes, where
 * every im2col row is a contiguous run: vector adds instead of the col buffer and the lane-by-lane,
 * stride-sw col2im scatter of the col path (which took more time than the product for a 7x7 stride-2 stem).
 * At the end the planes are interleaved back into X (stride 2: two-source lane selects).
 *
 * <p>A task owns one (image, group) of X and adds into it in a fixed order (bands, then slivers of columns, then
 * of col rows): results do not depend on the thread count.
 */
final class ConvBandData {
    private ConvBandData() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /**
     * Most floats of one band of padded Y (4 MiB: the stem's whole 112x112 image, 64 channels). Y is read from
     * memory once, by the band's copy; per channel the copy is one run of the band's rows, and runs of 8 rows
     * (3.5 KiB) came in at 9-10 GB/s against 24 for whole planes (a copy loop alone): with 8-row bands (256
     * KiB, whose B slivers the product then read from L2 rather than L3) the stem's backward-data took
     * 1.20-1.24x as long (thread CPU time, alternating in one JVM).
     */
    private static final int BAND_FLOATS = 1 << 20;
    /** Most floats of one output row of padded Y over all channels: wider ones keep the col path (as before bands grew). */
    private static final int ROW_FLOATS = 64 * 1024;
    /** Most floats of one (image, group)'s phase planes of X (16 MiB): beyond it the col path runs. */
    private static final long MAX_PLANES = 4L << 20;

    private static final class Scratch {
        float[] planes = new float[0], yp = new float[0], tile = new float[0];

        Scratch ensure(int planeFloats, int ypFloats, int tileFloats) {
            if (planes.length < planeFloats) planes = new float[planeFloats];
            if (yp.length < ypFloats) yp = new float[ypFloats];
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    private static final ThreadLocal<float[][]> PACKED_W = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /** Rows of one image's phase planes: all output rows, the taps' row reach, and a last sliver's overrun. */
    private static int planeRows(ConvGeom g, int nr) {
        int wph = ConvBand.wph(g), maxDi = (g.r() - 1) * g.dh() / g.sh(), maxDj = (g.s() - 1) * g.dw() / g.sw();
        return g.hy() + maxDi + Math.ceilDiv(maxDj + nr, wph) + 1;
    }

    /**
     * Whether this path takes {@code g}: little padded width, enough Y channels (the product's depth) and col
     * rows to fill the microkernel, every X position inside the phase planes, and planes of sane size.
     */
    static boolean applies(ConvGeom g, Width w) {
        int wph = ConvBand.wph(g), nr = ConvMicro.nr(w);
        long planes = (long) g.cxg() * g.sh() * g.sw() * planeRows(g, nr) * wph;
        return ConvBand.applies(g) && g.cyg() >= 16 && g.kdim() >= 2 * ConvGemm.MR && planes <= MAX_PLANES
                && (g.hx() - 1 + g.ph()) / g.sh() < planeRows(g, nr) && (long) g.cyg() * Math.ceilDiv(wph, nr) * nr <= ROW_FLOATS;
    }

    /** X = data(Y, W) (+ bias per X channel: the transposed forward), X overwritten. */
    static void data(Width w, ConvGeom g, MemorySegment y, MemorySegment wt, MemorySegment x, MemorySegment bias) {
        int nr = ConvMicro.nr(w), wph = ConvBand.wph(g), kdim = g.kdim(), cyg = g.cyg(), kc = ConvBand.kc(cyg);
        int aStride = ConvGemm.packedA(kdim, cyg);
        float[][] holder = PACKED_W.get();
        if (holder[0].length < aStride * g.groups()) holder[0] = new float[aStride * g.groups()];
        float[] ap = holder[0];
        for (int grp = 0; grp < g.groups(); grp++) // W_g^T: element (p, o) at o*kdim + p
            ConvGemm.packA(wt, (long) grp * cyg * kdim, kdim, true, kdim, cyg, kc, ap, grp * aStride);
        int rows = bandRows(g, nr), ldy = Math.ceilDiv(rows * wph, nr) * nr;
        int planeRows = planeRows(g, nr), planeFloats = planeRows * wph, planes = g.cxg() * g.sh() * g.sw() * planeFloats;
        int[] rowAtX = ConvBand.rowStarts(g, planeFloats, wph), rowAtY = new int[cyg];
        for (int o = 0; o < cyg; o++) rowAtY[o] = o * ldy;
        boolean wide = ConvMicro.wide(w);
        CpuThreads.parallelFor(g.n() * g.groups(), task -> {
            int b = task / g.groups(), grp = task % g.groups();
            Scratch s = SCRATCH.get().ensure(planes, cyg * ldy, ConvGemm.MR * nr);
            Arrays.fill(s.planes, 0, planes, 0f);
            long yb = g.yBase(b, grp);
            for (int oy0 = 0; oy0 < g.hy(); oy0 += rows) {
                int nrows = Math.min(rows, g.hy() - oy0), k = nrows * wph;
                padY(g, y, yb, oy0, nrows, wph, ldy, s.yp);
                for (int p0 = 0; p0 < cyg; p0 += kc) {
                    int depth = Math.min(kc, cyg - p0);
                    // columns outer: a sliver of Y (depth x nr, 16 KiB at 64 channels) stays in L1 while every sliver
                    // of W^T passes; with W^T's slivers outer each of them streamed the band from L2 again (7x7/2 stem
                    // at N = 32: 1.13-1.14x slower, thread CPU time, alternating in one JVM)
                    for (int jr = 0; jr < k; jr += nr)
                        for (int ir = 0; ir < kdim; ir += ConvGemm.MR) {
                            int mrows = Math.min(ConvGemm.MR, kdim - ir), ai = grp * aStride + ir * cyg + p0 * ConvGemm.MR;
                            // B's rows ldy apart, the tile added straight into the planes (through the row table
                            // and a tile array, the stem's backward-data took 1.08x as long)
                            if (wide && mrows == ConvGemm.MR) {
                                int at = oy0 * wph + jr;
                                ConvMicro.wideStridedAdd(w, depth, ap, ai, s.yp, p0 * ldy + jr, ldy, s.planes, rowAtX[ir] + at,
                                        rowAtX[ir + 1] + at, rowAtX[ir + 2] + at, rowAtX[ir + 3] + at, rowAtX[ir + 4] + at,
                                        rowAtX[ir + 5] + at);
                                continue;
                            }
                            ConvMicro.tile(w, depth, ap, ai, s.yp, rowAtY, p0, jr, s.tile);
                            for (int r = 0; r < mrows; r++) add(w, s.tile, r * nr, s.planes, rowAtX[ir + r] + oy0 * wph + jr, nr);
                        }
                }
            }
            unfill(w, g, s.planes, planeRows, wph, planeFloats, x, g.xBase(b, grp), bias, grp);
        });
    }

    /** Output rows per band of padded Y: the most that fit {@link #BAND_FLOATS}, fewest columns lost to rounding up to slivers. */
    private static int bandRows(ConvGeom g, int nr) {
        int wph = ConvBand.wph(g), best = 1;
        long bestCols = Long.MAX_VALUE;
        for (int rows = 1; rows <= g.hy() && (long) g.cyg() * Math.ceilDiv(rows * wph, nr) * nr <= BAND_FLOATS; rows++) {
            int bands = Math.ceilDiv(g.hy(), rows), last = g.hy() - (bands - 1) * rows;
            long cols = (long) (bands - 1) * Math.ceilDiv(rows * wph, nr) * nr + (long) Math.ceilDiv(last * wph, nr) * nr;
            if (cols <= bestCols) {
                bestCols = cols;
                best = rows;
            }
        }
        return best;
    }

    /** Y_g rows oy0 .. oy0+nrows into dst, channel o at o*ldy, wph floats per row, zeros past wy and past the band. */
    private static void padY(ConvGeom g, MemorySegment y, long yb, int oy0, int nrows, int wph, int ldy, float[] dst) {
        int wy = g.wy();
        for (int o = 0; o < g.cyg(); o++) {
            int row = o * ldy;
            long from = yb + (long) o * g.yPlane() + (long) oy0 * wy;
            for (int i = 0; i < nrows; i++) {
                int d = row + i * wph;
                MemorySegment.copy(y, F, (from + (long) i * wy) * 4, dst, d, wy);
                Arrays.fill(dst, d + wy, d + wph, 0f);
            }
            Arrays.fill(dst, row + nrows * wph, row + ldy, 0f);
        }
    }

    /** dst[at .. at+count) += src[from ..]. */
    private static void add(Width w, float[] src, int from, float[] dst, int at, int count) {
        var sp = w.floats();
        for (int i = 0; i < count; i += sp.length())
            FloatVector.fromArray(sp, dst, at + i).add(FloatVector.fromArray(sp, src, from + i)).intoArray(dst, at + i);
    }

    /**
     * X_g (at {@code xb}) from its phase planes: X[ci][iy][ix] = plane (a, b)[i][j] with iy = i*sh + a - ph and
     * ix = j*sw + b - pw (+ bias[grp*cxg + ci]); positions no plane column reaches are 0.
     */
    private static void unfill(Width w, ConvGeom g, float[] planes, int planeRows, int wph, int planeFloats, MemorySegment x, long xb,
                               MemorySegment bias, int grp) {
        int sh = g.sh(), sw = g.sw(), wx = g.wx(), l = w.floats().length();
        float[] pairs = new float[2 * l]; // lane indices interleaving two phase vectors: the first X vector, then the second
        for (int i = 0; i < l; i++) {
            pairs[i] = i % 2 == 0 ? i / 2 : l + i / 2;
            pairs[l + i] = i % 2 == 0 ? l / 2 + i / 2 : l + l / 2 + i / 2;
        }
        for (int ci = 0; ci < g.cxg(); ci++) {
            float bv = bias == null ? 0f : bias.getAtIndex(F, (long) grp * g.cxg() + ci);
            for (int iy = 0; iy < g.hx(); iy++) {
                int a = (iy + g.ph()) % sh, i = (iy + g.ph()) / sh;
                long to = xb + ((long) ci * g.hx() + iy) * wx;
                int plane0 = ((ci * sh + a) * sw) * planeFloats + i * wph; // phase b adds b * planeFloats
                if (sw == 1 && g.pw() + wx <= wph) {
                    copyOut(w, planes, plane0 + g.pw(), x, to, wx, bias != null, bv);
                    continue;
                }
                if (sw == 2) {
                    interleaveOut(w, pairs, planes, plane0, plane0 + planeFloats, g.pw(), wph, x, to, wx, bias != null, bv);
                    continue;
                }
                for (int ix = 0; ix < wx; ix++) {
                    int t = ix + g.pw(), j = t / sw;
                    float v = j < wph ? planes[plane0 + (t % sw) * planeFloats + j] : 0f;
                    x.setAtIndex(F, to + ix, bias != null ? v + bv : v);
                }
            }
        }
    }

    /** x[to .. to+count) = src[from ..] (+ bias). */
    private static void copyOut(Width w, float[] src, int from, MemorySegment x, long to, int count, boolean addBias, float bias) {
        var sp = w.floats();
        int l = sp.length(), i = 0;
        FloatVector bv = FloatVector.broadcast(sp, bias);
        for (; i <= count - l; i += l) {
            FloatVector v = FloatVector.fromArray(sp, src, from + i);
            if (addBias) v = v.add(bv);
            v.intoMemorySegment(x, (to + i) * 4, NATIVE);
        }
        for (; i < count; i++) x.setAtIndex(F, to + i, addBias ? src[from + i] + bias : src[from + i]);
    }

    /**
     * One X row of stride 2 across: x[ix] = phase (ix + pw) % 2 at column (ix + pw) / 2 (phase rows at {@code even}
     * and {@code odd}), 0 past wph; pairs of phase vectors interleaved into two X vectors by lane selects.
     */
    private static void interleaveOut(Width w, float[] pairs, float[] planes, int even, int odd, int pw, int wph, MemorySegment x,
                                      long to, int count, boolean addBias, float bias) {
        var sp = w.floats();
        int l = sp.length(), ix = 0;
        // a vector pair starts where ix + pw is even: X lanes alternate phase 0, phase 1 from column (ix + pw) / 2
        if (pw % 2 != 0) {
            float v = pw / 2 < wph ? planes[odd + pw / 2] : 0f; // ix = 0: t = pw, odd
            x.setAtIndex(F, to, addBias ? v + bias : v);
            ix = 1;
        }
        FloatVector lo = FloatVector.fromArray(sp, pairs, 0), hi = FloatVector.fromArray(sp, pairs, l), bv = FloatVector.broadcast(sp, bias);
        for (; ix + 2 * l <= count && (ix + pw) / 2 + l <= wph; ix += 2 * l) {
            int j = (ix + pw) / 2;
            FloatVector e = FloatVector.fromArray(sp, planes, even + j), o = FloatVector.fromArray(sp, planes, odd + j);
            FloatVector first = lo.selectFrom(e, o), second = hi.selectFrom(e, o);
            if (addBias) {
                first = first.add(bv);
                second = second.add(bv);
            }
            first.intoMemorySegment(x, (to + ix) * 4, NATIVE);
            second.intoMemorySegment(x, (to + ix + l) * 4, NATIVE);
        }
        for (; ix < count; ix++) {
            int t = ix + pw, j = t / 2;
            float v = j < wph ? planes[(t % 2 == 0 ? even : odd) + j] : 0f;
            x.setAtIndex(F, to + ix, addBias ? v + bias : v);
        }
    }
}
