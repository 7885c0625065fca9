package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.LaneTranspose;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The weight map as a GEMM over the band: dW_g^T[p][o] = sum over images and output positions j of col[p][j] .
 * dY_g[o][j], with M = the weight columns p (channels x taps), N = the Y channels o and the depth K = the
 * output positions. A needs no copy at all: row p of col is a contiguous run of X's padded phase planes
 * ({@link ConvBand}), and the microkernel ({@link ConvMicro#tileRowsA}) broadcasts from six such runs. B is
 * dY transposed (K x o, in slivers of nr channels), built per band of output rows with l x l in-register
 * transposes (log2(l) rounds of two-source lane selects): cyg x K floats per band, 1/kdim of the product's work.
 * The GEMM path this replaces transposed col itself (kdim x K per image, lane by lane) and the dot-product path
 * ({@link ConvBandWeights}) keeps lane partial sums; for 3x3 on 64 channels this ran at 1.5x the GEMM path's
 * rate (thread CPU time, alternating in one process).
 *
 * <p>Images are cut into {@link ConvBandWeights#CHUNKS} fixed runs per group (one task each, images in order),
 * each with its own partial dW^T, and dW is the sum of the runs' results in run order: every sum's order depends
 * on the descriptor and the vector width only, never on the thread count.
 */
final class ConvWeightGemm {
    private ConvWeightGemm() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Most floats of one band's phase planes (256 KiB), as in {@link ConvBand}. */
    private static final int BAND_FLOATS = 64 * 1024;

    private static final class Scratch {
        float[] band = new float[0], yt = new float[0], tile = new float[0], block = new float[0];

        Scratch ensure(int bandFloats, int ytFloats, int tileFloats, int blockFloats) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (yt.length < ytFloats) yt = new float[ytFloats];
            if (tile.length < tileFloats) tile = new float[tileFloats];
            if (block.length < blockFloats) block = new float[blockFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Whether this path takes {@code g}: little padded width, Y channels that fill most of a sliver of nr (a first
     * layer's 32 channels would leave half of a 64-wide sliver empty; {@link ConvBandWeights} takes those), at
     * least two slivers of weight columns, and a one-row band of sane size.
     */
    static boolean applies(ConvGeom g, Width w) {
        int nr = ConvMicro.nr(w), cygPad = Math.ceilDiv(g.cyg(), nr) * nr;
        long rowFloats = (long) g.cxg() * g.sh() * g.sw() * ConvBand.wph(g);
        return ConvBand.applies(g) && 4 * g.cyg() >= 3 * cygPad && g.kdim() >= 2 * ConvGemm.MR
                && rowFloats * ((long) (g.r() - 1) * g.dh() / g.sh() + 2) <= 1 << 24;
    }

    /** dW (cy x kdim, per group) from X and Y, overwritten. */
    static void weights(Width w, ConvGeom g, MemorySegment x, MemorySegment y, MemorySegment dw) {
        int nr = ConvMicro.nr(w), l = w.floats().length(), wph = ConvBand.wph(g), kdim = g.kdim(), cyg = g.cyg();
        int slivers = Math.ceilDiv(cyg, nr), cygPad = slivers * nr;
        int maxDi = (g.r() - 1) * g.dh() / g.sh();
        long rowFloats = (long) g.cxg() * g.sh() * g.sw() * wph;
        int rows = (int) Math.max(1, Math.min(g.hy(), BAND_FLOATS / rowFloats - maxDi - 1));
        // rows of a phase plane: the band, the taps' row reach, and one row for the dropped columns' reach
        int planeRows = rows + maxDi + 1, planeFloats = planeRows * wph, kMax = rows * wph;
        int[] rowAt = ConvBand.rowStarts(g, planeFloats, wph);
        int perChunk = Math.ceilDiv(g.n(), Math.min(g.n(), ConvBandWeights.CHUNKS)), chunks = Math.ceilDiv(g.n(), perChunk);
        int result = kdim * cygPad, phases = g.sh() * g.sw();
        float[] partial = new float[g.groups() * chunks * result];
        CpuThreads.parallelFor(g.groups() * chunks, task -> {
            int grp = task / chunks, c = task % chunks, acc = task * result;
            Scratch s = SCRATCH.get().ensure(g.cxg() * phases * planeFloats, slivers * kMax * nr, ConvGemm.MR * nr, l * l);
            for (int b = c * perChunk; b < Math.min(g.n(), (c + 1) * perChunk); b++)
                for (int oy0 = 0; oy0 < g.hy(); oy0 += rows) {
                    int nrows = Math.min(rows, g.hy() - oy0), k = nrows * wph;
                    ConvBand.fillBand(w, g, x, g.xBase(b, grp), oy0, nrows + maxDi + 1, wph, planeFloats, s.band);
                    transposeY(w, g, y, g.yBase(b, grp), oy0, nrows, wph, k, nr, s.yt, s.block);
                    // the depth (the band's positions) in panels of at most KC_MAX: a sliver of B over a whole band of a
                    // stem (43 rows of 115: 1.3 MB) left L2 and streamed again for every sliver of A (7x7/2 stem 1.13x
                    // faster in panels, thread CPU time, alternating in one JVM; 3x3 C64 56x56 bands are one panel)
                    for (int k0 = 0, kc = ConvBand.kc(k); k0 < k; k0 += kc) {
                        int depth = Math.min(kc, k - k0);
                        for (int so = 0; so < slivers; so++)
                            for (int ir = 0; ir < kdim; ir += ConvGemm.MR) {
                                int mrows = Math.min(ConvGemm.MR, kdim - ir), last = ir + mrows - 1;
                                ConvMicro.tileRowsA(w, depth, s.band, rowAt[ir] + k0, rowAt[Math.min(ir + 1, last)] + k0,
                                        rowAt[Math.min(ir + 2, last)] + k0, rowAt[Math.min(ir + 3, last)] + k0, rowAt[Math.min(ir + 4, last)] + k0,
                                        rowAt[last] + k0, s.yt, so * k * nr + k0 * nr, s.tile);
                                for (int r = 0; r < mrows; r++) add(w, s.tile, r * nr, partial, acc + (ir + r) * cygPad + so * nr, nr);
                            }
                    }
                }
        });
        for (int grp = 0; grp < g.groups(); grp++)
            for (int o = 0; o < cyg; o++)
                for (int p = 0; p < kdim; p++) {
                    int at = grp * chunks * result + p * cygPad + o;
                    float sum = partial[at];
                    for (int c = 1; c < chunks; c++) sum += partial[at + c * result];
                    dw.setAtIndex(F, ((long) grp * cyg + o) * kdim + p, sum);
                }
    }

    /** dst[at .. at+count) += src[from ..]. */
    private static void add(Width w, float[] src, int from, float[] dst, int at, int count) {
        var sp = w.floats();
        for (int i = 0; i < count; i += sp.length())
            FloatVector.fromArray(sp, dst, at + i).add(FloatVector.fromArray(sp, src, from + i)).intoArray(dst, at + i);
    }

    /**
     * yt[sliver][j][lane] = dY_g[sliver*nr + lane][oy0 + j / wph][j % wph] for j < k, zero where j % wph >= wy or
     * the channel is past cyg. Full l x l blocks (l channels x l columns inside an output row) go through
     * {@link LaneTranspose#block}; the rest lane by lane.
     */
    private static void transposeY(Width w, ConvGeom g, MemorySegment y, long yb, int oy0, int nrows, int wph, int k, int nr,
                                   float[] yt, float[] block) {
        var sp = w.floats();
        int l = sp.length(), cyg = g.cyg(), wy = g.wy(), slivers = Math.ceilDiv(cyg, nr);
        float[] lanes = LaneTranspose.lanes(l);
        for (int o0 = 0; o0 < slivers * nr; o0 += l) {
            int base = o0 / nr * k * nr + o0 % nr;
            boolean full = o0 + l <= cyg;
            for (int i = 0; i < nrows; i++) {
                long row = yb + (long) (oy0 + i) * wy;
                int j0 = i * wph, jj = 0;
                if (full)
                    for (; jj + l <= wy; jj += l) LaneTranspose.block(sp, lanes, y, row + (long) o0 * g.yPlane() + jj, g.yPlane(), block, yt, base + (j0 + jj) * nr, nr);
                for (; jj < wph; jj++)
                    for (int e = 0; e < l; e++) {
                        int o = o0 + e;
                        yt[base + (j0 + jj) * nr + e] = o < cyg && jj < wy ? y.getAtIndex(F, row + (long) o * g.yPlane() + jj) : 0f;
                    }
            }
        }
    }
}
