package dev.kiln.cpu.sparse;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = S * B for a 2:4 structured S (two kept values per group of four columns, 2-bit positions in META).
 *
 * <p>The structure is dense-like: every row has a pair of values in every group of four. Four rows are
 * walked together group by group, so the four B rows of a group (four vectors wide each) are brought into
 * L1 by the first row and the other three pick theirs, by META, from L1: the B rows are a gather, but from
 * L1. Four rows by four vectors make sixteen independent accumulators; a row's two values of a group go
 * into the same one (two dependent FMAs, sixteen chains side by side). The per-value scalar work (META
 * decode, broadcast) is spread over four vectors. B is blocked as in {@link CsrKernel}: a panel of
 * {@link CsrKernel#KC} rows stays in L2 for all rows of the block. Both positions of a pair sit in one
 * META nibble.
 */
final class TwoFourKernel {
    private TwoFourKernel() {}

    /** Rows [r0, r1) and columns [j0, j1) of C (row stride ldc) from S (k columns) and B (k x ldb). */
    static void rows(Width w, int k, float[] values, byte[] meta, float[] b, int ldb, float[] c, int ldc, int r0, int r1, int j0, int j1) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), j = j0;
        for (; j + 4 * l <= j1; j += 4 * l)
            for (int k0 = 0; k0 < k; k0 += CsrKernel.KC) {
                int g0 = k0 / 4, g1 = Math.min(k, k0 + CsrKernel.KC) / 4;
                int r = r0;
                for (; r + 4 <= r1; r += 4) fourRows(w, k, values, meta, b, ldb, c, ldc, r, j, g0, g1);
                for (; r < r1; r++) oneRow(w, k, values, meta, b, ldb, c, r * ldc + j, r, j, g0, g1, null);
            }
        for (; j < j1; j += l) {
            VectorMask<Float> m = s.indexInRange(j, j1);
            for (int r = r0; r < r1; r++) oneRow(w, k, values, meta, b, ldb, c, r * ldc + j, r, j, 0, k / 4, m);
        }
    }

    /** The two positions of kept values e and e+1 (e even): a nibble, first position in the low two bits. */
    private static int pair(byte[] meta, int e) { return (meta[e >> 2] >> (2 * (e & 3))) & 15; }

    /** Rows r..r+3, four vectors of columns at j, groups [g0, g1); added to C unless g0 is the first group. */
    private static void fourRows(Width w, int k, float[] values, byte[] meta, float[] b, int ldb, float[] c, int ldc, int r, int j,
                                 int g0, int g1) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), half = k / 2;
        FloatVector z = FloatVector.zero(s);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, d0 = z, d1 = z, d2 = z, d3 = z;
        int ea = r * half, eb = ea + half, ec = eb + half, ed = ec + half;
        for (int g = g0; g < g1; g++) {
            int group = 4 * g * ldb + j, e = 2 * g; // B row 4g, column j; first kept value of the group in each row
            int pa = pair(meta, ea + e), pb = pair(meta, eb + e), pc = pair(meta, ec + e), pd = pair(meta, ed + e);
            int o = group + (pa & 3) * ldb, p = group + (pa >> 2) * ldb;
            FloatVector v = FloatVector.broadcast(s, values[ea + e]), u = FloatVector.broadcast(s, values[ea + e + 1]);
            a0 = FloatVector.fromArray(s, b, p).fma(u, FloatVector.fromArray(s, b, o).fma(v, a0));
            a1 = FloatVector.fromArray(s, b, p + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, a1));
            a2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2));
            a3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3));
            o = group + (pb & 3) * ldb;
            p = group + (pb >> 2) * ldb;
            v = FloatVector.broadcast(s, values[eb + e]);
            u = FloatVector.broadcast(s, values[eb + e + 1]);
            b0 = FloatVector.fromArray(s, b, p).fma(u, FloatVector.fromArray(s, b, o).fma(v, b0));
            b1 = FloatVector.fromArray(s, b, p + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, b1));
            b2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, b2));
            b3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, b3));
            o = group + (pc & 3) * ldb;
            p = group + (pc >> 2) * ldb;
            v = FloatVector.broadcast(s, values[ec + e]);
            u = FloatVector.broadcast(s, values[ec + e + 1]);
            c0 = FloatVector.fromArray(s, b, p).fma(u, FloatVector.fromArray(s, b, o).fma(v, c0));
            c1 = FloatVector.fromArray(s, b, p + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, c1));
            c2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, c2));
            c3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, c3));
            o = group + (pd & 3) * ldb;
            p = group + (pd >> 2) * ldb;
            v = FloatVector.broadcast(s, values[ed + e]);
            u = FloatVector.broadcast(s, values[ed + e + 1]);
            d0 = FloatVector.fromArray(s, b, p).fma(u, FloatVector.fromArray(s, b, o).fma(v, d0));
            d1 = FloatVector.fromArray(s, b, p + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, d1));
            d2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, d2));
            d3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, d3));
        }
        // written out, not a helper taking the vectors: passing them to a call that is not inlined boxes them,
        // and C2 then keeps them boxed through the loop (an allocation per group, ten times slower)
        boolean add = g0 > 0;
        int at = r * ldc + j, bt = at + ldc, ct = bt + ldc, dt = ct + ldc;
        if (add) {
            a0 = a0.add(FloatVector.fromArray(s, c, at));
            a1 = a1.add(FloatVector.fromArray(s, c, at + l));
            a2 = a2.add(FloatVector.fromArray(s, c, at + 2 * l));
            a3 = a3.add(FloatVector.fromArray(s, c, at + 3 * l));
        }
        a0.intoArray(c, at);
        a1.intoArray(c, at + l);
        a2.intoArray(c, at + 2 * l);
        a3.intoArray(c, at + 3 * l);
        if (add) {
            b0 = b0.add(FloatVector.fromArray(s, c, bt));
            b1 = b1.add(FloatVector.fromArray(s, c, bt + l));
            b2 = b2.add(FloatVector.fromArray(s, c, bt + 2 * l));
            b3 = b3.add(FloatVector.fromArray(s, c, bt + 3 * l));
        }
        b0.intoArray(c, bt);
        b1.intoArray(c, bt + l);
        b2.intoArray(c, bt + 2 * l);
        b3.intoArray(c, bt + 3 * l);
        if (add) {
            c0 = c0.add(FloatVector.fromArray(s, c, ct));
            c1 = c1.add(FloatVector.fromArray(s, c, ct + l));
            c2 = c2.add(FloatVector.fromArray(s, c, ct + 2 * l));
            c3 = c3.add(FloatVector.fromArray(s, c, ct + 3 * l));
        }
        c0.intoArray(c, ct);
        c1.intoArray(c, ct + l);
        c2.intoArray(c, ct + 2 * l);
        c3.intoArray(c, ct + 3 * l);
        if (add) {
            d0 = d0.add(FloatVector.fromArray(s, c, dt));
            d1 = d1.add(FloatVector.fromArray(s, c, dt + l));
            d2 = d2.add(FloatVector.fromArray(s, c, dt + 2 * l));
            d3 = d3.add(FloatVector.fromArray(s, c, dt + 3 * l));
        }
        d0.intoArray(c, dt);
        d1.intoArray(c, dt + l);
        d2.intoArray(c, dt + 2 * l);
        d3.intoArray(c, dt + 3 * l);
    }

    /**
     * One row, groups [g0, g1): four vectors of columns at j when {@code m} is null (added to C unless g0 is
     * 0), else one vector over all groups, the lanes of m.
     */
    private static void oneRow(Width w, int k, float[] values, byte[] meta, float[] b, int ldb, float[] c, int cAt, int r, int j,
                               int g0, int g1, VectorMask<Float> m) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), ea = r * (k / 2);
        FloatVector z = FloatVector.zero(s), a0 = z, a1 = z, a2 = z, a3 = z;
        for (int g = g0; g < g1; g++) {
            int group = 4 * g * ldb + j, e = ea + 2 * g, pr = pair(meta, e);
            int o = group + (pr & 3) * ldb, p = group + (pr >> 2) * ldb;
            FloatVector v = FloatVector.broadcast(s, values[e]), u = FloatVector.broadcast(s, values[e + 1]);
            if (m == null) {
                a0 = FloatVector.fromArray(s, b, p).fma(u, FloatVector.fromArray(s, b, o).fma(v, a0));
                a1 = FloatVector.fromArray(s, b, p + l).fma(u, FloatVector.fromArray(s, b, o + l).fma(v, a1));
                a2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2));
                a3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3));
            } else {
                a0 = FloatVector.fromArray(s, b, p, m).fma(u, FloatVector.fromArray(s, b, o, m).fma(v, a0));
            }
        }
        if (m == null) {
            if (g0 > 0) {
                a0 = a0.add(FloatVector.fromArray(s, c, cAt));
                a1 = a1.add(FloatVector.fromArray(s, c, cAt + l));
                a2 = a2.add(FloatVector.fromArray(s, c, cAt + 2 * l));
                a3 = a3.add(FloatVector.fromArray(s, c, cAt + 3 * l));
            }
            a0.intoArray(c, cAt);
            a1.intoArray(c, cAt + l);
            a2.intoArray(c, cAt + 2 * l);
            a3.intoArray(c, cAt + 3 * l);
        } else {
            a0.intoArray(c, cAt, m);
        }
    }
}
