package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The forward map of a 3x3, stride-1, undilated convolution by Winograd's minimal filtering F(2x2, 3x3)
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): every 2x2 tile of Y is
 * {@code A^T [ sum_c (G g_kc G^T) . (B^T d_c B) ] A} with d_c the 4x4 patch of channel c under the tile, so the
 * 36 multiplications per tile, channel and output channel of the direct form become 16, done as 16 GEMMs
 * {@code M_e (cyg x tiles) = U_e (cyg x cxg) . V_e (cxg x tiles)}, one per element e of the 4x4 transform.
 *
 * <p>Why F(2x2, 3x3) and not F(4x4, 3x3) (36 products per 4x4 tile, 2.25x fewer again): the larger tile's
 * transforms have constants up to 8 and 1/24, and its error, measured in f32 against sums of |terms| (the
 * parity tolerance's unit, {@code 1e-6 + 32 u} = 2.9e-6), reached 1.1e-5 on one input channel and 1.7e-6 on
 * 64; F(3x3, 3x3) 2.5e-6 on one channel. F(2x2, 3x3) stays at 4e-7 (1 channel) and 1e-7 (64), with
 * transforms of 0, +-1 and +-1/2 only.
 *
 * <p>Layout: tasks are (image, group, block of tile rows). X's rows under the block are copied into two
 * column phases (even and odd padded columns, {@link ConvBand#fillBand} with a stride-(1, 2) geometry), so the
 * four columns of tiles tx .. tx+l-1 are four contiguous runs and the input transform runs on vectors of l
 * tiles. It writes V straight in the packed-B layout of {@link GemmMicro#kernelWide} / {@link GemmMicro#kernel}
 * (tile rows padded to whole vectors), the weights' transform U is packed once per call, and the 16 products
 * go through those microkernels into M, from which the output transform writes 2x2 tiles into Y (the two
 * columns of a tile interleaved by two-source selects, the plane's edges by masked stores). A block's V and
 * M (16 x (cxg + cyg) x columns floats) stay within L2. Every output element is one task's, and a task's
 * arithmetic depends on the descriptor and the vector width only: results do not depend on the thread count.
 */
final class ConvWinograd {
    private ConvWinograd() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Elements of the 4x4 transform: one GEMM each. */
    private static final int E = 16;
    /** Most floats of one block's V and M together: 512 KiB, half of a 1 MiB L2. */
    private static final int BLOCK_FLOATS = 128 * 1024;
    /**
     * Fewest channels per group (input and output) for which {@link VectorConv} routes here: below, the 16 GEMMs
     * are too shallow or too narrow for the saving to cover the transforms (3x3 56x56, 1 thread, thread CPU time:
     * 16 channels 0.94x the direct path, 32 1.13-1.26x, 64 1.27-1.42x; bench/RESULTS.md).
     */
    static final int MIN_CHANNELS = 32;
    /**
     * Floats between consecutive elements' V (and M) beyond their size: a cache line, so that the 16 loads or stores
     * of one transform, a power of two apart otherwise (16 KiB at 64 channels x 64 columns), do not all fall into
     * one L1 set (12 ways) and 4 KiB-alias each other.
     */
    private static final int SKEW = 16;

    /**
     * Whether {@code g}'s forward map is a 3x3 stride-1 undilated convolution, the only shape computed here, and one
     * block's V and M (a tile row at least, a sliver of 64 columns beyond it) stay under 2^25 floats per thread.
     */
    static boolean computes(ConvGeom g) {
        return g.r() == 3 && g.s() == 3 && g.sh() == 1 && g.sw() == 1 && g.dh() == 1 && g.dw() == 1
                && g.hy() == g.hx() + 2 * g.ph() - 2 && g.wy() == g.wx() + 2 * g.pw() - 2 && g.hy() > 0 && g.wy() > 0
                && (long) (g.cxg() + g.cyg()) * E * (g.wy() / 2 + 160) <= 1 << 25;
    }

    /**
     * Whether the forward map of {@code g} goes here in {@link VectorConv}: computed here, with enough channels, and
     * with tile rows that fill at least 80% of the vectors they are padded to (a row of 7 tiles in 16 lanes, 14x14
     * at 512 bits, ran at 0.94-0.97x the direct path with 256 channels).
     */
    static boolean routes(ConvGeom g, Width w) {
        int l = w.floats().length(), tiles = Math.ceilDiv(g.wy(), 2);
        return computes(g) && g.cxg() >= MIN_CHANNELS && g.cyg() >= MIN_CHANNELS && g.hy() >= 2
                && 5 * tiles >= 4 * Math.ceilDiv(tiles, l) * l;
    }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] band = new float[0], v = new float[0], m = new float[0], tile = new float[0];

        Scratch ensure(int bandFloats, int vFloats, int mFloats, int tileFloats) {
            if (band.length < bandFloats) band = new float[bandFloats];
            if (v.length < vFloats) v = new float[vFloats];
            if (m.length < mFloats) m = new float[mFloats];
            if (tile.length < tileFloats) tile = new float[tileFloats];
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** The transformed, packed weights of one call, on the calling thread (tasks only read them). */
    private static final ThreadLocal<float[][]> PACKED_U = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * Tile rows per block: up to what keeps V and M within {@link #BLOCK_FLOATS} (but at least a sliver's worth), the
     * count whose blocks' columns, rounded up to whole slivers of nr, waste least (ties: more rows).
     */
    static int blockRows(int tileRows, int rowCols, int cxg, int cyg, int nr) {
        int fit = Math.max(BLOCK_FLOATS / (E * (cxg + cyg)) / rowCols, Math.ceilDiv(nr, rowCols));
        int maxRows = Math.max(1, Math.min(tileRows, fit));
        int best = 1;
        long bestCols = Long.MAX_VALUE;
        for (int rows = 1; rows <= maxRows; rows++) {
            int blocks = Math.ceilDiv(tileRows, rows), last = tileRows - (blocks - 1) * rows;
            long cols = (long) (blocks - 1) * Math.ceilDiv(rows * rowCols, nr) * nr + (long) Math.ceilDiv(last * rowCols, nr) * nr;
            if (cols <= bestCols) {
                bestCols = cols;
                best = rows;
            }
        }
        return best;
    }

    /**
     * Y = fwd(X, W) (+ bias per Y channel) for a geometry that {@link #computes}; {@code wt} holds W (per
     * group, cyg rows of cxg x 9, row-major) from element {@code wBase}.
     */
    static void fwd(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, long wBase, MemorySegment y, MemorySegment bias) {
        var sp = w.floats();
        int l = sp.length(), nr = ConvMicro.nr(w), cxg = g.cxg(), cyg = g.cyg(), kc = ConvBand.kc(cxg);
        int tileRows = Math.ceilDiv(g.hy(), 2), tilesPerRow = Math.ceilDiv(g.wy(), 2), rowCols = Math.ceilDiv(tilesPerRow, l) * l;
        int uStride = ConvGemm.packedA(cyg, cxg);
        float[] u = packedU(w, g, wt, wBase, kc, uStride);
        float[] biasValues = new float[bias == null ? 0 : g.cy()];
        for (int i = 0; i < biasValues.length; i++) biasValues[i] = bias.getAtIndex(F, i);
        int rows = blockRows(tileRows, rowCols, cxg, cyg, nr), blocks = Math.ceilDiv(tileRows, rows);
        int cols = Math.ceilDiv(rows * rowCols, nr) * nr, phaseWidth = rowCols + 1, bandRows = 2 * rows + 2;
        int planeFloats = bandRows * phaseWidth;
        ConvGeom phases = columnPhases(g);
        float[] zip = zipIndexes(l);
        int perImage = g.groups() * blocks;
        CpuThreads.parallelFor(g.n() * perImage, task -> {
            int b = task / perImage, grp = task % perImage / blocks, ty0 = task % perImage % blocks * rows;
            int nrows = Math.min(rows, tileRows - ty0);
            Scratch s = SCRATCH.get().ensure(cxg * 2 * planeFloats, E * (cxg * cols + SKEW), E * (cyg * cols + SKEW), ConvGemm.MR * nr);
            ConvBand.fillBand(w, phases, x, g.xBase(b, grp), 2 * ty0, 2 * nrows + 2, phaseWidth, planeFloats, s.band);
            inputTransform(sp, s.band, cxg, nrows, rowCols, phaseWidth, planeFloats, s.v, cols, nr);
            products(w, u, grp * E * uStride, uStride, cyg, cxg, kc, s.v, cols, nrows * rowCols, nr, s.m, s.tile);
            outputTransform(sp, s.m, cyg, cols, nrows, rowCols, ty0, g, y, g.yBase(b, grp), biasValues,
                    biasValues.length == 0 ? -1 : grp * cyg, zip);
        });
    }

    /** X in even and odd padded columns ({@link ConvBand#fillBand}): phase plane (ci, b) row i holds X[i - ph][2j + b - pw]. */
    private static ConvGeom columnPhases(ConvGeom g) {
        return new ConvGeom(g.n(), g.cx(), g.hx(), g.wx(), g.cy(), g.hy(), g.wy(), g.groups(), 3, 3, 1, 2, g.ph(), g.pw(), 1, 1);
    }

    /**
     * U_e = (G g G^T)_e for every group, output and input channel, packed per (group, e) as A (cyg x cxg, depth
     * panels of kc), with G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]: on vectors of l (output,
     * input channel) pairs, their nine taps gathered from a copy of the group's weights (element by element this
     * took 0.2 ms of a 1.1 ms 3x3 C64 56x56 forward at N = 1), the last pairs one by one with the same arithmetic.
     */
    private static float[] packedU(Width w, ConvGeom g, MemorySegment wt, long wBase, int kc, int uStride) {
        var sp = w.floats();
        int l = sp.length(), cxg = g.cxg(), cyg = g.cyg(), pairs = cyg * cxg;
        float[][] holder = PACKED_U.get();
        if (holder[0].length < g.groups() * E * uStride) holder[0] = new float[g.groups() * E * uStride];
        float[] packed = holder[0];
        float[] taps = new float[pairs * 9], plain = new float[E * pairs]; // weights-sized: small next to the products
        MemorySegment plainSeg = MemorySegment.ofArray(plain); // read by bulk copies only (packA)
        int[] nine = new int[l];
        for (int i = 0; i < l; i++) nine[i] = 9 * i;
        for (int grp = 0; grp < g.groups(); grp++) {
            MemorySegment.copy(wt, F, (wBase + (long) grp * pairs * 9) * 4, taps, 0, pairs * 9);
            int p = 0;
            for (; p + l <= pairs; p += l) {
                int at = 9 * p;
                FloatVector g00 = FloatVector.fromArray(sp, taps, at, nine, 0), g01 = FloatVector.fromArray(sp, taps, at + 1, nine, 0);
                FloatVector g02 = FloatVector.fromArray(sp, taps, at + 2, nine, 0), g10 = FloatVector.fromArray(sp, taps, at + 3, nine, 0);
                FloatVector g11 = FloatVector.fromArray(sp, taps, at + 4, nine, 0), g12 = FloatVector.fromArray(sp, taps, at + 5, nine, 0);
                FloatVector g20 = FloatVector.fromArray(sp, taps, at + 6, nine, 0), g21 = FloatVector.fromArray(sp, taps, at + 7, nine, 0);
                FloatVector g22 = FloatVector.fromArray(sp, taps, at + 8, nine, 0);
                // t = G . g (4 x 3): rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 of the kernel's rows
                FloatVector t10 = g00.add(g10).add(g20).mul(0.5f), t11 = g01.add(g11).add(g21).mul(0.5f), t12 = g02.add(g12).add(g22).mul(0.5f);
                FloatVector t20 = g00.sub(g10).add(g20).mul(0.5f), t21 = g01.sub(g11).add(g21).mul(0.5f), t22 = g02.sub(g12).add(g22).mul(0.5f);
                // U = t . G^T: the same combination of each row's three values (written out: vectors passed to a
                // helper method are boxed)
                g00.intoArray(plain, p);
                g00.add(g01).add(g02).mul(0.5f).intoArray(plain, pairs + p);
                g00.sub(g01).add(g02).mul(0.5f).intoArray(plain, 2 * pairs + p);
                g02.intoArray(plain, 3 * pairs + p);
                t10.intoArray(plain, 4 * pairs + p);
                t10.add(t11).add(t12).mul(0.5f).intoArray(plain, 5 * pairs + p);
                t10.sub(t11).add(t12).mul(0.5f).intoArray(plain, 6 * pairs + p);
                t12.intoArray(plain, 7 * pairs + p);
                t20.intoArray(plain, 8 * pairs + p);
                t20.add(t21).add(t22).mul(0.5f).intoArray(plain, 9 * pairs + p);
                t20.sub(t21).add(t22).mul(0.5f).intoArray(plain, 10 * pairs + p);
                t22.intoArray(plain, 11 * pairs + p);
                g20.intoArray(plain, 12 * pairs + p);
                g20.add(g21).add(g22).mul(0.5f).intoArray(plain, 13 * pairs + p);
                g20.sub(g21).add(g22).mul(0.5f).intoArray(plain, 14 * pairs + p);
                g22.intoArray(plain, 15 * pairs + p);
            }
            float[] t = new float[12];
            for (; p < pairs; p++) {
                for (int j = 0; j < 3; j++) {
                    float g0 = taps[9 * p + j], g1 = taps[9 * p + 3 + j], g2 = taps[9 * p + 6 + j];
                    t[j] = g0;
                    t[3 + j] = (g0 + g1 + g2) * 0.5f;
                    t[6 + j] = (g0 - g1 + g2) * 0.5f;
                    t[9 + j] = g2;
                }
                for (int i = 0; i < 4; i++) {
                    float t0 = t[3 * i], t1 = t[3 * i + 1], t2 = t[3 * i + 2];
                    plain[4 * i * pairs + p] = t0;
                    plain[(4 * i + 1) * pairs + p] = (t0 + t1 + t2) * 0.5f;
                    plain[(4 * i + 2) * pairs + p] = (t0 - t1 + t2) * 0.5f;
                    plain[(4 * i + 3) * pairs + p] = t2;
                }
            }
            for (int e = 0; e < E; e++)
                ConvGemm.packA(plainSeg, (long) e * pairs, cxg, false, cyg, cxg, kc, packed, (grp * E + e) * uStride);
        }
        return packed;
    }

    /**
     * V_e = (B^T d B)_e for every tile of the block and channel, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0],
     * [0, 1, 0, -1]], l tiles per vector, into the packed-B layout: column (tile row i, tile j) is i*rowCols + j,
     * sliver of nr columns at (col / nr) * cxg * nr, then nr values per channel; V_e starts at e * (cxg * cols + SKEW).
     */
    private static void inputTransform(VectorSpecies<Float> sp, float[] band, int cxg, int nrows, int rowCols, int phaseWidth,
                                       int planeFloats, float[] v, int cols, int nr) {
        int l = sp.length(), eStride = cxg * cols + SKEW;
        for (int ci = 0; ci < cxg; ci++) {
            int even = 2 * ci * planeFloats, odd = even + planeFloats;
            for (int ty = 0; ty < nrows; ty++)
                for (int t0 = 0; t0 < rowCols; t0 += l) {
                    int col = ty * rowCols + t0, at = col / nr * cxg * nr + ci * nr + col % nr;
                    int r0 = 2 * ty * phaseWidth + t0, r1 = r0 + phaseWidth, r2 = r1 + phaseWidth, r3 = r2 + phaseWidth;
                    // rows of the 4x4 patches, each times B on the right: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    FloatVector a0 = FloatVector.fromArray(sp, band, even + r0), b0 = FloatVector.fromArray(sp, band, odd + r0);
                    FloatVector c0 = FloatVector.fromArray(sp, band, even + r0 + 1), d0 = FloatVector.fromArray(sp, band, odd + r0 + 1);
                    FloatVector h00 = a0.sub(c0), h01 = b0.add(c0), h02 = c0.sub(b0), h03 = b0.sub(d0);
                    FloatVector a1 = FloatVector.fromArray(sp, band, even + r1), b1 = FloatVector.fromArray(sp, band, odd + r1);
                    FloatVector c1 = FloatVector.fromArray(sp, band, even + r1 + 1), d1 = FloatVector.fromArray(sp, band, odd + r1 + 1);
                    FloatVector h10 = a1.sub(c1), h11 = b1.add(c1), h12 = c1.sub(b1), h13 = b1.sub(d1);
                    FloatVector a2 = FloatVector.fromArray(sp, band, even + r2), b2 = FloatVector.fromArray(sp, band, odd + r2);
                    FloatVector c2 = FloatVector.fromArray(sp, band, even + r2 + 1), d2 = FloatVector.fromArray(sp, band, odd + r2 + 1);
                    FloatVector h20 = a2.sub(c2), h21 = b2.add(c2), h22 = c2.sub(b2), h23 = b2.sub(d2);
                    FloatVector a3 = FloatVector.fromArray(sp, band, even + r3), b3 = FloatVector.fromArray(sp, band, odd + r3);
                    FloatVector c3 = FloatVector.fromArray(sp, band, even + r3 + 1), d3 = FloatVector.fromArray(sp, band, odd + r3 + 1);
                    FloatVector h30 = a3.sub(c3), h31 = b3.add(c3), h32 = c3.sub(b3), h33 = b3.sub(d3);
                    // then B^T on the left, the same combination of rows
                    h00.sub(h20).intoArray(v, at);
                    h01.sub(h21).intoArray(v, at + eStride);
                    h02.sub(h22).intoArray(v, at + 2 * eStride);
                    h03.sub(h23).intoArray(v, at + 3 * eStride);
                    h10.add(h20).intoArray(v, at + 4 * eStride);
                    h11.add(h21).intoArray(v, at + 5 * eStride);
                    h12.add(h22).intoArray(v, at + 6 * eStride);
                    h13.add(h23).intoArray(v, at + 7 * eStride);
                    h20.sub(h10).intoArray(v, at + 8 * eStride);
                    h21.sub(h11).intoArray(v, at + 9 * eStride);
                    h22.sub(h12).intoArray(v, at + 10 * eStride);
                    h23.sub(h13).intoArray(v, at + 11 * eStride);
                    h10.sub(h30).intoArray(v, at + 12 * eStride);
                    h11.sub(h31).intoArray(v, at + 13 * eStride);
                    h12.sub(h32).intoArray(v, at + 14 * eStride);
                    h13.sub(h33).intoArray(v, at + 15 * eStride);
                }
        }
    }

    /**
     * M_e (cyg x cols, row-major) = U_e . V_e for the 16 elements, over the first {@code used} columns (rounded
     * up to slivers); depth in panels of kc, the first panel stored, later ones added.
     */
    private static void products(Width w, float[] u, int uBase, int uStride, int cyg, int cxg, int kc, float[] v, int cols, int used,
                                 int nr, float[] m, float[] tile) {
        var sp = w.floats();
        int l = sp.length();
        boolean wide = ConvMicro.wide(w);
        for (int e = 0; e < E; e++) {
            int ue = uBase + e * uStride, ve = e * (cxg * cols + SKEW), me = e * (cyg * cols + SKEW);
            for (int jr = 0; jr < used; jr += nr)
                for (int ir = 0; ir < cyg; ir += ConvGemm.MR) {
                    int rows = Math.min(ConvGemm.MR, cyg - ir);
                    for (int p0 = 0; p0 < cxg; p0 += kc) {
                        int depth = Math.min(kc, cxg - p0), ai = ue + ir * cxg + p0 * ConvGemm.MR, bi = ve + jr * cxg + p0 * nr;
                        if (wide) GemmMicro.kernelWide(w, depth, u, ai, v, bi, tile);
                        else GemmMicro.kernel(w, depth, u, ai, v, bi, tile);
                        for (int r = 0; r < rows; r++) {
                            int to = me + (ir + r) * cols + jr;
                            if (p0 == 0) System.arraycopy(tile, r * nr, m, to, nr);
                            else
                                for (int j = 0; j < nr; j += l)
                                    FloatVector.fromArray(sp, m, to + j).add(FloatVector.fromArray(sp, tile, r * nr + j)).intoArray(m, to + j);
                        }
                    }
                }
        }
    }

    /** Lane indexes that interleave two vectors: the first l of (a0, b0, a1, b1, ...), then the next l. */
    private static float[] zipIndexes(int l) {
        float[] z = new float[2 * l];
        for (int i = 0; i < 2 * l; i++) z[i] = i / 2 + (i % 2) * l;
        return z;
    }

    /**
     * Y tile (2x2) = A^T M A (+ bias), A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], l tiles per vector: output row
     * 2*ty + i gets the tile's two columns interleaved; columns and rows past the plane are not written.
     */
    private static void outputTransform(VectorSpecies<Float> sp, float[] m, int cyg, int cols, int nrows, int rowCols, int ty0,
                                        ConvGeom g, MemorySegment y, long yb, float[] bias, int biasAt, float[] zip) {
        int l = sp.length(), eStride = cyg * cols + SKEW, hy = g.hy(), wy = g.wy();
        FloatVector zipLo = FloatVector.fromArray(sp, zip, 0), zipHi = FloatVector.fromArray(sp, zip, l);
        float[] edge = new float[2 * l];
        for (int o = 0; o < cyg; o++) {
            FloatVector bv = FloatVector.broadcast(sp, biasAt >= 0 ? bias[biasAt + o] : 0f);
            long chan = yb + (long) o * g.yPlane();
            for (int ty = 0; ty < nrows; ty++) {
                int oy = 2 * (ty0 + ty);
                for (int t0 = 0; t0 < rowCols; t0 += l) {
                    int ox = 2 * t0;
                    if (ox >= wy) break;
                    int at = o * cols + ty * rowCols + t0;
                    // A^T on the left: rows m0 + m1 + m2 and m1 - m2 - m3 of each column
                    FloatVector m00 = FloatVector.fromArray(sp, m, at), m01 = FloatVector.fromArray(sp, m, at + eStride);
                    FloatVector m02 = FloatVector.fromArray(sp, m, at + 2 * eStride), m03 = FloatVector.fromArray(sp, m, at + 3 * eStride);
                    FloatVector m10 = FloatVector.fromArray(sp, m, at + 4 * eStride), m11 = FloatVector.fromArray(sp, m, at + 5 * eStride);
                    FloatVector m12 = FloatVector.fromArray(sp, m, at + 6 * eStride), m13 = FloatVector.fromArray(sp, m, at + 7 * eStride);
                    FloatVector m20 = FloatVector.fromArray(sp, m, at + 8 * eStride), m21 = FloatVector.fromArray(sp, m, at + 9 * eStride);
                    FloatVector m22 = FloatVector.fromArray(sp, m, at + 10 * eStride), m23 = FloatVector.fromArray(sp, m, at + 11 * eStride);
                    FloatVector s00 = m00.add(m10).add(m20), s01 = m01.add(m11).add(m21), s02 = m02.add(m12).add(m22), s03 = m03.add(m13).add(m23);
                    FloatVector m30 = FloatVector.fromArray(sp, m, at + 12 * eStride), m31 = FloatVector.fromArray(sp, m, at + 13 * eStride);
                    FloatVector m32 = FloatVector.fromArray(sp, m, at + 14 * eStride), m33 = FloatVector.fromArray(sp, m, at + 15 * eStride);
                    FloatVector s10 = m10.sub(m20).sub(m30), s11 = m11.sub(m21).sub(m31), s12 = m12.sub(m22).sub(m32), s13 = m13.sub(m23).sub(m33);
                    // then A on the right; the tile's two columns interleaved (vector arguments to a helper were
                    // boxed: the stores stay in this loop)
                    FloatVector y00 = s00.add(s01).add(s02).add(bv), y01 = s01.sub(s02).sub(s03).add(bv);
                    int count = wy - ox;
                    long at0 = (chan + (long) oy * wy + ox) * 4, at1 = at0 + 4L * wy;
                    FloatVector lo = zipLo.selectFrom(y00, y01), hi = zipHi.selectFrom(y00, y01);
                    if (count >= 2 * l) {
                        lo.intoMemorySegment(y, at0, NATIVE);
                        hi.intoMemorySegment(y, at0 + 4L * l, NATIVE);
                    } else if (at0 + 8L * l <= y.byteSize()) {
                        lo.intoMemorySegment(y, at0, NATIVE, sp.indexInRange(0, count));
                        if (count > l) hi.intoMemorySegment(y, at0 + 4L * l, NATIVE, sp.indexInRange(l, count));
                    } else { // masked stores reaching past Y's end take the Vector API's slow path (10x the pass at N = 1)
                        lo.intoArray(edge, 0);
                        hi.intoArray(edge, l);
                        MemorySegment.copy(edge, 0, y, F, at0, count);
                    }
                    if (oy + 1 < hy) {
                        FloatVector y10 = s10.add(s11).add(s12).add(bv), y11 = s11.sub(s12).sub(s13).add(bv);
                        lo = zipLo.selectFrom(y10, y11);
                        hi = zipHi.selectFrom(y10, y11);
                        if (count >= 2 * l) {
                            lo.intoMemorySegment(y, at1, NATIVE);
                            hi.intoMemorySegment(y, at1 + 4L * l, NATIVE);
                        } else if (at1 + 8L * l <= y.byteSize()) {
                            lo.intoMemorySegment(y, at1, NATIVE, sp.indexInRange(0, count));
                            if (count > l) hi.intoMemorySegment(y, at1 + 4L * l, NATIVE, sp.indexInRange(l, count));
                        } else {
                            lo.intoArray(edge, 0);
                            hi.intoArray(edge, l);
                            MemorySegment.copy(edge, 0, y, F, at1, count);
                        }
                    }
                }
            }
        }
    }
}
