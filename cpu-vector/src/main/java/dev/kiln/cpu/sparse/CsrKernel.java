package dev.kiln.cpu.sparse;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = S * B for a CSR matrix S over row-major dense B and C, on a block of rows and a range of columns.
 *
 * <p>Why this shape. Each stored value costs one load of a B row chunk per FMA, so the kernel is bound by
 * loads and the scalar work around them (index, bounds check, broadcast), not by arithmetic. A C row chunk of
 * four vectors stays in registers across the stored values of the row (two accumulator sets, values taken
 * two at a time, eight FMAs in flight), so the per-value scalar work is spread over four FMAs. B is blocked
 * GEMM-style: a panel of {@link #KC} rows by the four-vector chunk (256 KB at 512 bits) is reused by every
 * row of the block while it sits in L2; where each row's values cross from one panel to the next is found
 * once per call. Partial sums are added in a fixed order, so a result depends only on the data and the shape.
 * Used for SpMM and, on transposed operands, for dense x sparse ({@link DenseSparse}).
 */
final class CsrKernel {
    private CsrKernel() {}

    /** Rows of B per panel. */
    static final int KC = 1024;

    /**
     * Rows [r0, r1) and columns [j0, j1) of C (row stride ldc; row r of S goes to row r - cRow0 of C, for a
     * scratch C block) from S (rowPtr, colIdx, values; kRows columns) and B (kRows x ldb); rows without
     * entries get zeros.
     */
    static void rows(Width w, int[] rowPtr, int[] colIdx, float[] values, float[] b, int ldb, int kRows, float[] c, int ldc, int cRow0,
                     int r0, int r1, int j0, int j1) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), j = j0;
        if (j + 4 * l <= j1) {
            // where each row's values cross into the next panel, found once for all column chunks
            int rows = r1 - r0, panels = (kRows + KC - 1) / KC;
            int[] split = new int[(panels + 1) * rows];
            for (int i = 0; i < rows; i++) {
                int e = rowPtr[r0 + i], end = rowPtr[r0 + i + 1];
                split[i] = e;
                for (int p = 1; p < panels; p++) {
                    while (e < end && colIdx[e] < p * KC) e++;
                    split[p * rows + i] = e;
                }
                split[panels * rows + i] = end;
            }
            for (; j + 4 * l <= j1; j += 4 * l)
                for (int p = 0; p < panels; p++)
                    for (int i = 0; i < rows; i++)
                        fourVectors(w, split[p * rows + i], split[(p + 1) * rows + i], colIdx, values, b, ldb, c,
                                (r0 + i - cRow0) * ldc + j, j, p > 0);
        }
        for (; j < j1; j += l) {
            VectorMask<Float> m = s.indexInRange(j, j1);
            for (int r = r0; r < r1; r++) oneVector(w, rowPtr[r], rowPtr[r + 1], colIdx, values, b, ldb, c, (r - cRow0) * ldc + j, j, m);
        }
    }

    /** C[cAt .. cAt+4 vectors) (plus its old contents when {@code add}) = sum over e in [e0, e1) of values[e] * B[colIdx[e]][j ..]. */
    private static void fourVectors(Width w, int e0, int e1, int[] colIdx, float[] values, float[] b, int ldb, float[] c, int cAt, int j,
                                    boolean add) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length();
        FloatVector z = FloatVector.zero(s), a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        int e = e0;
        for (; e + 2 <= e1; e += 2) {
            int o = colIdx[e] * ldb + j, p = colIdx[e + 1] * ldb + j;
            FloatVector v = FloatVector.broadcast(s, values[e]), u = FloatVector.broadcast(s, values[e + 1]);
            a0 = FloatVector.fromArray(s, b, o).fma(v, a0);
            a1 = FloatVector.fromArray(s, b, o + l).fma(v, a1);
            a2 = FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2);
            a3 = FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3);
            b0 = FloatVector.fromArray(s, b, p).fma(u, b0);
            b1 = FloatVector.fromArray(s, b, p + l).fma(u, b1);
            b2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, b2);
            b3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, b3);
        }
        if (e < e1) {
            int o = colIdx[e] * ldb + j;
            FloatVector v = FloatVector.broadcast(s, values[e]);
            a0 = FloatVector.fromArray(s, b, o).fma(v, a0);
            a1 = FloatVector.fromArray(s, b, o + l).fma(v, a1);
            a2 = FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2);
            a3 = FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3);
        }
        a0 = a0.add(b0);
        a1 = a1.add(b1);
        a2 = a2.add(b2);
        a3 = a3.add(b3);
        if (add) {
            a0 = a0.add(FloatVector.fromArray(s, c, cAt));
            a1 = a1.add(FloatVector.fromArray(s, c, cAt + l));
            a2 = a2.add(FloatVector.fromArray(s, c, cAt + 2 * l));
            a3 = a3.add(FloatVector.fromArray(s, c, cAt + 3 * l));
        }
        a0.intoArray(c, cAt);
        a1.intoArray(c, cAt + l);
        a2.intoArray(c, cAt + 2 * l);
        a3.intoArray(c, cAt + 3 * l);
    }

    /** As {@link #fourVectors} over the whole row for one vector of columns, the lanes of {@code m} only (the column tail). */
    private static void oneVector(Width w, int e0, int e1, int[] colIdx, float[] values, float[] b, int ldb, float[] c, int cAt, int j,
                                  VectorMask<Float> m) {
        VectorSpecies<Float> s = w.floats();
        FloatVector z = FloatVector.zero(s), a = z, bb = z;
        int e = e0;
        for (; e + 2 <= e1; e += 2) {
            a = FloatVector.fromArray(s, b, colIdx[e] * ldb + j, m).fma(FloatVector.broadcast(s, values[e]), a);
            bb = FloatVector.fromArray(s, b, colIdx[e + 1] * ldb + j, m).fma(FloatVector.broadcast(s, values[e + 1]), bb);
        }
        if (e < e1) a = FloatVector.fromArray(s, b, colIdx[e] * ldb + j, m).fma(FloatVector.broadcast(s, values[e]), a);
        a.add(bb).intoArray(c, cAt, m);
    }

    /** y[r] = sum over row r of S of value * x[col], rows [r0, r1): SpMV, four scalar chains (a vector of one lane would waste it). */
    static void spmv(int[] rowPtr, int[] colIdx, float[] values, float[] x, float[] y, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            int e = rowPtr[r], e1 = rowPtr[r + 1];
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (; e + 4 <= e1; e += 4) {
                s0 += values[e] * x[colIdx[e]];
                s1 += values[e + 1] * x[colIdx[e + 1]];
                s2 += values[e + 2] * x[colIdx[e + 2]];
                s3 += values[e + 3] * x[colIdx[e + 3]];
            }
            for (; e < e1; e++) s0 += values[e] * x[colIdx[e]];
            y[r] = (s0 + s1) + (s2 + s3);
        }
    }
}
