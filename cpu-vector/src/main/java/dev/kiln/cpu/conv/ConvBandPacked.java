package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The forward map of shallow convolutions (a GEMM depth of channels x taps whose B sliver, depth x nr floats,
 * fits in L1: the 7x7 stride-2 stem on 3 channels, depth 147) over {@link ConvBand}'s phase planes, with B
 * packed. Per band of output rows: X is copied into the phase planes as in {@link ConvBand#fillBand}; then, one
 * sliver of nr GEMM columns at a time, the sliver's depth x nr im2col block is packed from the planes into an
 * L1-sized buffer once and multiplied by every 6-row sliver of packed A ({@link ConvMicro#tileRowsA}, all
 * indices linear in the depth step, as in the GEMM driver).
 *
 * <p>Why, beside {@link ConvBand}'s in-place kernel: that one reads B through a table of row starts (a scalar
 * load and range checks per depth step: ~10% slower than packed B), and its columns are the planes' padded
 * rows (wph = wy + 3 for the stem), so a vector of a tile crosses an output row in one of every ~7 and goes to
 * Y as two masked stores. Here the GEMM's columns are Y's own (flat oy*wy + ox within the band): packing picks
 * them out of the padded rows (a vector that crosses an output row blends two loads), the padding columns are
 * not computed, and a tile row is a contiguous run of Y, stored as whole vectors (112 = 7 x 16 for the stem).
 * The pack costs depth x nr loads and stores per sliver against cyg/6 tiles of 6 x nr x depth FMAs, which is
 * why this path asks for enough output channels.
 *
 * <p>Tasks are (image, group, band of output rows), a function of the descriptor and the vector width only;
 * every output is one task's, summed over k = 0 .. kdim-1 in order from zero, then the bias added: the same
 * bits as {@link ConvBand} and independent of the thread count.
 */
final class ConvBandPacked {
    private ConvBandPacked() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Most floats of one band's phase planes (256 KiB of a 1 MiB L2), as {@link ConvBand}. */
    private static final int BAND_FLOATS = 64 * 1024;
    /** Most floats of a packed B sliver: 40 KiB of a 48 KiB L1, the A sliver (6 x depth) streaming past it. */
    static final int MAX_SLIVER_FLOATS = 10 * 1024;
    /**
     * Fewest output channels per group: the pack is then shared by at least 8 A slivers (3x3 C16 on 56x56, 16
     * lanes: 32 channels ran 0.93x {@link ConvBand}'s rate, 48 1.08x, 64 faster still).
     */
    static final int MIN_CHANNELS = 8 * ConvGemm.MR;

    /**
     * Whether the forward map of {@code g} runs here: where {@link ConvBand} applies, the depth's B sliver fits
     * L1, there are enough output channels, and an output row is at least a vector wide (so a vector of
     * columns spans at most two output rows).
     */
    static boolean applies(ConvGeom g, Width w) {
        return ConvBand.forwardApplies(g) && (long) g.kdim() * ConvMicro.nr(w) <= MAX_SLIVER_FLOATS
               && g.cyg() >= MIN_CHANNELS && g.wy() >= w.floats().length();
    }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] band = new float[0], sliver = new float[0], tile = new float[0];

        Scratch ensure(int bandFloats, int sliverFloats, int tileFloats) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (sliver.length < sliverFloats) sliver = new float[sliverFloats];
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** The packed weights of one call, on the calling thread (tasks only read them). */
    private static final ThreadLocal<float[][]> PACKED_W = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * Output rows per band: the count, up to what fits {@link #BAND_FLOATS}, that minimises the band's columns
     * rounded up to whole slivers (for the stem, 28 rows: 28 x 112 = 49 slivers of 64) plus the copying of the
     * rows that neighbouring bands share.
     */
    static int bandRows(ConvGeom g, int nr) {
        int maxDi = (g.r() - 1) * g.dh() / g.sh();
        long rowFloats = (long) g.cxg() * g.sh() * g.sw() * ConvBand.wph(g);
        int maxRows = (int) Math.max(1, Math.min(g.hy(), BAND_FLOATS / rowFloats - maxDi - 3));
        long gemmPerCol = (long) g.kdim() * (Math.ceilDiv(g.cyg(), ConvGemm.MR) * ConvGemm.MR);
        int best = 1;
        long bestCost = Long.MAX_VALUE;
        for (int rows = 1; rows <= maxRows; rows++) {
            int bands = Math.ceilDiv(g.hy(), rows), last = g.hy() - (bands - 1) * rows;
            long cols = (long) (bands - 1) * Math.ceilDiv(rows * g.wy(), nr) * nr + (long) Math.ceilDiv(last * g.wy(), nr) * nr;
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
     * element {@code wBase}. For {@code g} where {@link ConvBand#forwardApplies} holds and an output row is at
     * least a vector wide (the rest of {@link #applies} is about speed).
     */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, long wBase, MemorySegment y, MemorySegment bias) {
        int wph = ConvBand.wph(g), wy = g.wy(), kdim = g.kdim(), cyg = g.cyg(), nr = ConvMicro.nr(w), mr = ConvGemm.MR;
        int aStride = ConvGemm.packedA(cyg, kdim);
        float[][] holder = PACKED_W.get();
        if (holder[0].length < aStride * g.groups()) holder[0] = new float[aStride * g.groups()];
        float[] ap = holder[0];
        for (int grp = 0; grp < g.groups(); grp++)
            ConvGemm.packA(wt, wBase + (long) grp * cyg * kdim, kdim, false, cyg, kdim, kdim, ap, grp * aStride);
        float[] biasValues = new float[bias == null ? 0 : g.cy()];
        for (int i = 0; i < biasValues.length; i++) biasValues[i] = bias.getAtIndex(F, i);
        int maxDi = (g.r() - 1) * g.dh() / g.sh(), maxDj = (g.s() - 1) * g.dw() / g.sw();
        int rows = bandRows(g, nr), bands = Math.ceilDiv(g.hy(), rows);
        // rows of a phase plane: the band, the taps' row reach, and slack for the vectors of a last sliver that
        // reach past the band's columns (their lanes feed only dropped columns, but must stay inside the array)
        int planeRows = rows + maxDi + 2 + Math.ceilDiv(2 * maxDj + nr, wph), planeFloats = planeRows * wph;
        int[] rowAt = ConvBand.rowStarts(g, planeFloats, wph);
        int phases = g.sh() * g.sw(), perImage = g.groups() * bands;
        boolean wide = ConvMicro.wide(w);
        CpuThreads.parallelFor(g.n() * perImage, task -> {
            int b = task / perImage, grp = task % perImage / bands, oy0 = task % bands * rows, nrows = Math.min(rows, g.hy() - oy0);
            int cols = nrows * wy;
            Scratch s = SCRATCH.get().ensure(g.cxg() * phases * planeFloats, kdim * nr, mr * nr);
            ConvBand.fillBand(w, g, x, g.xBase(b, grp), oy0, nrows + maxDi, wph, planeFloats, s.band);
            long yb = g.yBase(b, grp) + (long) oy0 * wy;
            for (int jr = 0; jr < cols; jr += nr) {
                packSliver(w, kdim, s.band, rowAt, jr, cols, wy, wph, nr, s.sliver);
                int width = Math.min(nr, cols - jr);
                for (int ir = 0; ir < cyg; ir += mr) {
                    int ai = grp * aStride + ir * kdim, biasAt = biasValues.length == 0 ? -1 : grp * cyg + ir;
                    long at = yb + (long) ir * g.yPlane() + jr;
                    if (wide && width == nr && ir + mr <= cyg) {
                        ConvMicro.wideIntoY(w, kdim, ap, ai, s.sliver, 0, y, at, g.yPlane(), biasValues, biasAt);
                        continue;
                    }
                    if (wide && width == nr && cyg - ir == 4) { // 64 channels: 10 slivers of 6, then 4
                        ConvMicro.wide4IntoY(w, kdim, ap, ai, s.sliver, 0, y, at, g.yPlane(), biasValues, biasAt);
                        continue;
                    }
                    ConvMicro.tileRowsA(w, kdim, ap, ai, ai + kdim, ai + 2 * kdim, ai + 3 * kdim, ai + 4 * kdim, ai + 5 * kdim,
                                        s.sliver, 0, s.tile);
                    writeTile(w, s.tile, nr, Math.min(mr, cyg - ir), width, y, at, g.yPlane(), biasValues, biasAt);
                }
            }
        });
    }

    /**
     * Packs GEMM columns jr .. jr+nr (band columns: output (c / wy, c % wy) of the band) of every im2col row p
     * (the plane run from {@code rowAt[p]}) into {@code dst} as kdim groups of nr. Band column c sits at
     * (c / wy) * wph + c % wy of a run; a vector whose columns cross an output row takes its later lanes from
     * wph - wy further on. Vectors wholly past {@code cols} are left as they are (their columns are dropped).
     */
    private static void packSliver(Width w, int kdim, float[] band, int[] rowAt, int jr, int cols, int wy, int wph, int nr, float[] dst) {
        VectorSpecies<Float> sp = w.floats();
        int l = sp.length(), shift = wph - wy, vectors = Math.min(nr, cols - jr + l - 1) / l;
        int at0 = at(jr, wy, wph), at1 = at(jr + l, wy, wph), at2 = at(jr + 2 * l, wy, wph), at3 = at(jr + 3 * l, wy, wph);
        // row by row, each row's vectors from one table entry: vector by vector down the rows, the pack took 12%
        // of the stem's forward, row by row 10% (thread CPU time, by difference)
        if (vectors == 4) {
            for (int p = 0, d = 0; p < kdim; p++, d += nr) {
                int from = rowAt[p];
                FloatVector.fromArray(sp, band, from + at0).intoArray(dst, d);
                FloatVector.fromArray(sp, band, from + at1).intoArray(dst, d + l);
                FloatVector.fromArray(sp, band, from + at2).intoArray(dst, d + 2 * l);
                FloatVector.fromArray(sp, band, from + at3).intoArray(dst, d + 3 * l);
            }
        } else if (vectors == 2 && nr == 2 * l) {
            for (int p = 0, d = 0; p < kdim; p++, d += nr) {
                int from = rowAt[p];
                FloatVector.fromArray(sp, band, from + at0).intoArray(dst, d);
                FloatVector.fromArray(sp, band, from + at1).intoArray(dst, d + l);
            }
        } else {
            for (int v = 0; v < vectors * l; v += l) {
                int at = at(jr + v, wy, wph);
                for (int p = 0, d = v; p < kdim; p++, d += nr) FloatVector.fromArray(sp, band, rowAt[p] + at).intoArray(dst, d);
            }
        }
        // vectors that cross the end of an output row: lanes from wy - ox on are the next row's first columns
        for (int v = 0; v < vectors * l; v += l) {
            int c = jr + v, oy = c / wy, ox = c - oy * wy, at = oy * wph + ox;
            if (ox + l <= wy) continue;
            int head = wy - ox;
            for (int p = 0, d = v; p < kdim; p++, d += nr) {
                int from = rowAt[p] + at;
                System.arraycopy(band, from, dst, d, head);
                System.arraycopy(band, from + head + shift, dst, d + head, l - head);
            }
        }
    }

    /** Offset in a plane run of band column c (output (c / wy, c % wy) of the band). */
    private static int at(int c, int wy, int wph) { return c / wy * wph + c % wy; }

    /**
     * Writes rows x width of the tile (row stride nr) into Y from element {@code at} (rows {@code plane} apart):
     * a tile row is a contiguous run of Y. Y = tile (+ bias[biasAt + r] when biasAt >= 0).
     */
    private static void writeTile(Width w, float[] tile, int nr, int rows, int width, MemorySegment y, long at, int plane,
                                  float[] bias, int biasAt) {
        VectorSpecies<Float> sp = w.floats();
        int l = sp.length();
        for (int r = 0; r < rows; r++) {
            long row = at + (long) r * plane;
            FloatVector bv = FloatVector.broadcast(sp, biasAt >= 0 ? bias[biasAt + r] : 0f);
            int v = 0;
            for (; v + l <= width; v += l) {
                FloatVector acc = FloatVector.fromArray(sp, tile, r * nr + v);
                if (biasAt >= 0) acc = acc.add(bv);
                acc.intoMemorySegment(y, (row + v) * 4, NATIVE);
            }
            for (; v < width; v++) y.setAtIndex(F, row + v, biasAt >= 0 ? tile[r * nr + v] + bias[biasAt + r] : tile[r * nr + v]);
        }
    }
}
