package dev.kiln.cpu.sparse;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = S * B for a 2:4 structured S (two kept values per group of four columns, 2-bit positions in META),
 * on packed B panels ({@link PackedPanels}).
 *
 * <p>Floors on the benchmark shape (4096 x 4096 x 256): half the dense FLOPs, 4.3 GFLOP; every FMA needs its
 * own B vector (the rows a value picks differ from row to row), so loads = FMAs, and Zen-class cores do two
 * of each per cycle only from L1. Hence: a block of {@link #KB} rows of a panel (16 vectors wide, 32 KB at
 * 512 bits) stays in L1 while every row of the task goes by, each A row picking its two rows of each group
 * by META. In Java the scalar work per value pair (META decode, addresses, range checks, broadcasts) costs
 * about as many instructions as eight FMAs, so it is spread over sixteen vectors: one row at a time, sixteen
 * accumulators, the two values of a group going into the same one (two dependent FMAs, sixteen chains side
 * by side; measured ahead of two rows x 8 vectors and four rows x 4). The running sums live in a scratch tile
 * (task rows x panel width) between blocks. Both positions of a pair sit in one META nibble.
 */
final class TwoFourKernel {
    private TwoFourKernel() {}

    /** Vectors per panel row: sixteen (the 256 columns of the benchmark at 512 bits). */
    static final int VECTORS = 16;

    /** Vectors per panel for a B of n columns: {@link #VECTORS}, or just enough for a narrower B (no padding wasted). */
    static int vectors(Width w, int n) { return Math.min(VECTORS, (n + w.floats().length() - 1) / w.floats().length()); }

    /** Rows of B per L1 block (a multiple of four): 32 rows x 256 floats = 32 KB at 512 bits. */
    static final int KB = 32;

    /**
     * Rows [r0, r1) of S (k columns) times panel p of B into {@code tile} (row r - r0 at (r - r0) * width, the
     * panel's width in floats: {@link #VECTORS} vectors, or fewer where B is narrower, see {@link #vectors}).
     * {@code values} and {@code meta} hold the kept values from number {@code eBase} on (a multiple of four, so
     * META nibbles keep their place in a byte): the task's own copy.
     */
    static void rows(Width w, int k, float[] values, byte[] meta, int eBase, PackedPanels bp, int p, float[] tile, int r0, int r1) {
        int width = bp.width, base = bp.base(p);
        float[] b = bp.data;
        for (int k0 = 0; k0 < k; k0 += KB) {
            int g0 = k0 / 4, g1 = Math.min(k, k0 + KB) / 4;
            if (width == VECTORS * w.floats().length())
                for (int r = r0; r < r1; r++) row16(w, k, values, meta, eBase, b, base, tile, (r - r0) * width, r, g0, g1);
            else
                for (int r = r0; r < r1; r++) narrowRow(w, k, values, meta, eBase, b, base, width, tile, (r - r0) * width, r, g0, g1);
        }
    }

    /** The two positions of kept values e and e+1 (e even): a nibble, first position in the low two bits. */
    private static int pair(byte[] meta, int e) { return (meta[e >> 2] >> (2 * (e & 3))) & 15; }

    /**
     * One row, sixteen vectors of columns (the whole panel of {@link #VECTORS} vectors), groups [g0, g1); added to
     * the tile unless g0 is the first group.
     */
    private static void row16(Width w, int k, float[] values, byte[] meta, int eBase, float[] b, int base, float[] c, int at,
                              int r, int g0, int g1) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), ldb = VECTORS * l; // ldb a constant: shifts, not multiplies
        FloatVector z = FloatVector.zero(s);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector a8 = z, a9 = z, a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z;
        int ea = r * (k / 2) - eBase;
        for (int g = g0; g < g1; g++) {
            int group = base + 4 * g * ldb, e = ea + 2 * g, pa = pair(meta, e); // B row 4g of the panel, first kept value of the group
            int o = group + (pa & 3) * ldb, q = group + (pa >> 2) * ldb;
            FloatVector v = FloatVector.broadcast(s, values[e]), u = FloatVector.broadcast(s, values[e + 1]);
            a0 = FloatVector.fromArray(s, b, q).fma(u, FloatVector.fromArray(s, b, o).fma(v, a0));
            a1 = FloatVector.fromArray(s, b, q + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, a1));
            a2 = FloatVector.fromArray(s, b, q + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2));
            a3 = FloatVector.fromArray(s, b, q + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3));
            a4 = FloatVector.fromArray(s, b, q + 4 * l).fma(u, FloatVector.fromArray(s, b, o + 4 * l).fma(v, a4));
            a5 = FloatVector.fromArray(s, b, q + 5 * l).fma(u, FloatVector.fromArray(s, b, o + 5 * l).fma(v, a5));
            a6 = FloatVector.fromArray(s, b, q + 6 * l).fma(u, FloatVector.fromArray(s, b, o + 6 * l).fma(v, a6));
            a7 = FloatVector.fromArray(s, b, q + 7 * l).fma(u, FloatVector.fromArray(s, b, o + 7 * l).fma(v, a7));
            a8 = FloatVector.fromArray(s, b, q + 8 * l).fma(u, FloatVector.fromArray(s, b, o + 8 * l).fma(v, a8));
            a9 = FloatVector.fromArray(s, b, q + 9 * l).fma(u, FloatVector.fromArray(s, b, o + 9 * l).fma(v, a9));
            a10 = FloatVector.fromArray(s, b, q + 10 * l).fma(u, FloatVector.fromArray(s, b, o + 10 * l).fma(v, a10));
            a11 = FloatVector.fromArray(s, b, q + 11 * l).fma(u, FloatVector.fromArray(s, b, o + 11 * l).fma(v, a11));
            a12 = FloatVector.fromArray(s, b, q + 12 * l).fma(u, FloatVector.fromArray(s, b, o + 12 * l).fma(v, a12));
            a13 = FloatVector.fromArray(s, b, q + 13 * l).fma(u, FloatVector.fromArray(s, b, o + 13 * l).fma(v, a13));
            a14 = FloatVector.fromArray(s, b, q + 14 * l).fma(u, FloatVector.fromArray(s, b, o + 14 * l).fma(v, a14));
            a15 = FloatVector.fromArray(s, b, q + 15 * l).fma(u, FloatVector.fromArray(s, b, o + 15 * l).fma(v, a15));
        }
        // written out, not a helper taking the vectors: passing them to a call that is not inlined boxes them,
        // and C2 then keeps them boxed through the loop (an allocation per group, ten times slower)
        if (g0 > 0) {
            a0 = a0.add(FloatVector.fromArray(s, c, at));
            a1 = a1.add(FloatVector.fromArray(s, c, at + l));
            a2 = a2.add(FloatVector.fromArray(s, c, at + 2 * l));
            a3 = a3.add(FloatVector.fromArray(s, c, at + 3 * l));
            a4 = a4.add(FloatVector.fromArray(s, c, at + 4 * l));
            a5 = a5.add(FloatVector.fromArray(s, c, at + 5 * l));
            a6 = a6.add(FloatVector.fromArray(s, c, at + 6 * l));
            a7 = a7.add(FloatVector.fromArray(s, c, at + 7 * l));
            a8 = a8.add(FloatVector.fromArray(s, c, at + 8 * l));
            a9 = a9.add(FloatVector.fromArray(s, c, at + 9 * l));
            a10 = a10.add(FloatVector.fromArray(s, c, at + 10 * l));
            a11 = a11.add(FloatVector.fromArray(s, c, at + 11 * l));
            a12 = a12.add(FloatVector.fromArray(s, c, at + 12 * l));
            a13 = a13.add(FloatVector.fromArray(s, c, at + 13 * l));
            a14 = a14.add(FloatVector.fromArray(s, c, at + 14 * l));
            a15 = a15.add(FloatVector.fromArray(s, c, at + 15 * l));
        }
        a0.intoArray(c, at);
        a1.intoArray(c, at + l);
        a2.intoArray(c, at + 2 * l);
        a3.intoArray(c, at + 3 * l);
        a4.intoArray(c, at + 4 * l);
        a5.intoArray(c, at + 5 * l);
        a6.intoArray(c, at + 6 * l);
        a7.intoArray(c, at + 7 * l);
        a8.intoArray(c, at + 8 * l);
        a9.intoArray(c, at + 9 * l);
        a10.intoArray(c, at + 10 * l);
        a11.intoArray(c, at + 11 * l);
        a12.intoArray(c, at + 12 * l);
        a13.intoArray(c, at + 13 * l);
        a14.intoArray(c, at + 14 * l);
        a15.intoArray(c, at + 15 * l);
    }

    /** One row, a panel narrower than {@link #VECTORS} vectors, one vector at a time (the same sums as {@link #row16}). */
    private static void narrowRow(Width w, int k, float[] values, byte[] meta, int eBase, float[] b, int base, int ldb, float[] c, int at,
                                  int r, int g0, int g1) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), ea = r * (k / 2) - eBase;
        for (int x = 0; x < ldb; x += l) {
            FloatVector a = FloatVector.zero(s);
            for (int g = g0; g < g1; g++) {
                int group = base + 4 * g * ldb + x, e = ea + 2 * g, pa = pair(meta, e);
                FloatVector v = FloatVector.broadcast(s, values[e]), u = FloatVector.broadcast(s, values[e + 1]);
                a = FloatVector.fromArray(s, b, group + (pa >> 2) * ldb).fma(u, FloatVector.fromArray(s, b, group + (pa & 3) * ldb).fma(v, a));
            }
            if (g0 > 0) a = a.add(FloatVector.fromArray(s, c, at + x));
            a.intoArray(c, at + x);
        }
    }
}
