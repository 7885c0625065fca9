package dev.kiln.cpu.sparse;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * C = S * B for a CSR matrix S over dense B and C: the SpMM on packed B panels ({@link #panelRows}) and the
 * row-major form ({@link #rows}) that dense x sparse ({@link DenseSparse}) runs on its transposed operands.
 *
 * <p>Why this shape. Each stored value costs one load of a B row chunk per FMA, so the kernel is bound by
 * loads and the scalar work around them (index, address, range checks, broadcast), not by arithmetic. Floors
 * on the benchmark shape (4096 x 4096 x 256) at 70% sparsity: 2.6 GFLOP, 10 ms at a 260 GFLOP/s core, with
 * loads = FMAs, i.e. only if B comes from L1 at two loads a cycle; B from L2 (one line a cycle) halves that. The
 * dense SGEMM takes ~45 ms, so break-even needs ~23% of peak. A C row chunk stays in registers across the
 * stored values of the row (two accumulator sets, values taken two at a time), so the per-value scalar work is
 * spread over its vectors: eight on packed panels, four in {@link #rows}. B is blocked: a block of B rows is
 * reused by every row of the task while it sits in L1/L2; where each row's values cross from one block to
 * the next is found once per task. Partial sums are added in a fixed order, so a result depends only on the
 * data and the shape.
 */
final class CsrKernel {
    private CsrKernel() {}

    /** Vectors per row of a packed B panel ({@link #panelRows}). */
    static final int VECTORS = 8;

    /** Vectors per panel for a B of n columns: {@link #VECTORS}, or just enough for a narrower B (no padding wasted). */
    static int vectors(Width w, int n) { return Math.min(VECTORS, (n + w.floats().length() - 1) / w.floats().length()); }

    /** Rows of B per panel in {@link #rows}. */
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

    /**
     * Rows of B per block for the packed SpMM ({@link #panelRows}) at {@code nnz} stored values in an m x k S:
     * a block must be small enough to stay near the core (128 rows of an 8-vector panel are 64 KB) yet hold
     * enough of each row's values that loading and storing the row's running sums (16 vector ops and a call per
     * block) stays small beside its FMAs (8 per value): about 32 values per row per block, so sparser rows take
     * longer blocks (from L2, still one contiguous, TLB-friendly run; at 95%, 1024 rows measured ahead of 128 and
     * 256). Depends on the shape and nnz only, so the sums' order does not depend on the thread count.
     */
    static int blockRows(int m, int k, long nnz) {
        long perRow = Math.max(1, nnz / Math.max(1, m));
        long kb = 128;
        while (kb < k && perRow * kb < 32L * k) kb *= 2;
        return (int) Math.min(kb, Math.max(k, 1));
    }

    /**
     * Where each of rows [r0, r1) crosses into the next block of {@code kb} B rows: entries of row r0 + i in
     * block q are [split[q * rows + i], split[(q + 1) * rows + i]), counted in {@code colIdx}, which holds the
     * entries from number {@code eBase} on (the task's own copy). Found once per task, shared by every panel.
     */
    static int[] splits(int[] rowPtr, int[] colIdx, int eBase, int kRows, int kb, int r0, int r1) {
        int rows = r1 - r0, blocks = Math.max(1, (kRows + kb - 1) / kb);
        int[] split = new int[(blocks + 1) * rows];
        for (int i = 0; i < rows; i++) {
            int e = rowPtr[r0 + i] - eBase, end = rowPtr[r0 + i + 1] - eBase;
            split[i] = e;
            for (int q = 1; q < blocks; q++) {
                while (e < end && colIdx[e] < q * kb) e++;
                split[q * rows + i] = e;
            }
            split[blocks * rows + i] = end;
        }
        return split;
    }

    /**
     * Rows [r0, r1) of S times panel p of the packed B into {@code tile} (row r - r0 at (r - r0) * width), block
     * by block of {@code kb} B rows ({@code split} from {@link #splits}): each block of the panel is one
     * contiguous run that every row of the task reuses while it is in L1/L2.
     */
    static void panelRows(Width w, int[] colIdx, float[] values, PackedPanels bp, int p, int kb, int[] split, float[] tile, int r0, int r1) {
        int rows = r1 - r0, blocks = Math.max(1, (bp.k + kb - 1) / kb), width = bp.width, base = bp.base(p);
        boolean eight = width == VECTORS * w.floats().length();
        for (int q = 0; q < blocks; q++)
            for (int i = 0; i < rows; i++)
                if (eight) eightVectors(w, split[q * rows + i], split[(q + 1) * rows + i], colIdx, values, bp.data, base, tile, i * width, q > 0);
                else narrow(w, split[q * rows + i], split[(q + 1) * rows + i], colIdx, values, bp.data, base, width, tile, i * width, q > 0);
    }

    /** As {@link #eightVectors} for a panel narrower than eight vectors, one vector at a time. */
    private static void narrow(Width w, int e0, int e1, int[] colIdx, float[] values, float[] b, int base, int ldb, float[] c, int cAt,
                               boolean add) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length();
        for (int x = 0; x < ldb; x += l) {
            FloatVector a = FloatVector.zero(s), u = a;
            int e = e0;
            for (; e + 2 <= e1; e += 2) {
                a = FloatVector.fromArray(s, b, base + colIdx[e] * ldb + x).fma(FloatVector.broadcast(s, values[e]), a);
                u = FloatVector.fromArray(s, b, base + colIdx[e + 1] * ldb + x).fma(FloatVector.broadcast(s, values[e + 1]), u);
            }
            if (e < e1) a = FloatVector.fromArray(s, b, base + colIdx[e] * ldb + x).fma(FloatVector.broadcast(s, values[e]), a);
            a = a.add(u);
            if (add) a = a.add(FloatVector.fromArray(s, c, cAt + x));
            a.intoArray(c, cAt + x);
        }
    }

    /**
     * tile[cAt .. cAt + 8 vectors) (plus its old contents when {@code add}) = sum over e in [e0, e1) of values[e] times row
     * colIdx[e] of the panel at {@code base}. Eight vectors per value: the scalar work per value (index, address, two
     * range checks, broadcast) costs as many instructions as a few FMAs, so it is spread over as many as the registers
     * allow; values taken two at a time into two accumulator sets (sixteen independent FMAs in flight).
     */
    private static void eightVectors(Width w, int e0, int e1, int[] colIdx, float[] values, float[] b, int base, float[] c, int cAt,
                                     boolean add) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), ldb = VECTORS * l; // a constant: a shift, not a multiply
        FloatVector z = FloatVector.zero(s), a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        FloatVector b0 = z, b1 = z, b2 = z, b3 = z, b4 = z, b5 = z, b6 = z, b7 = z;
        int e = e0;
        for (; e + 2 <= e1; e += 2) {
            int o = base + colIdx[e] * ldb, p = base + colIdx[e + 1] * ldb;
            FloatVector v = FloatVector.broadcast(s, values[e]), u = FloatVector.broadcast(s, values[e + 1]);
            a0 = FloatVector.fromArray(s, b, o).fma(v, a0);
            a1 = FloatVector.fromArray(s, b, o + l).fma(v, a1);
            a2 = FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2);
            a3 = FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3);
            a4 = FloatVector.fromArray(s, b, o + 4 * l).fma(v, a4);
            a5 = FloatVector.fromArray(s, b, o + 5 * l).fma(v, a5);
            a6 = FloatVector.fromArray(s, b, o + 6 * l).fma(v, a6);
            a7 = FloatVector.fromArray(s, b, o + 7 * l).fma(v, a7);
            b0 = FloatVector.fromArray(s, b, p).fma(u, b0);
            b1 = FloatVector.fromArray(s, b, p + l).fma(u, b1);
            b2 = FloatVector.fromArray(s, b, p + 2 * l).fma(u, b2);
            b3 = FloatVector.fromArray(s, b, p + 3 * l).fma(u, b3);
            b4 = FloatVector.fromArray(s, b, p + 4 * l).fma(u, b4);
            b5 = FloatVector.fromArray(s, b, p + 5 * l).fma(u, b5);
            b6 = FloatVector.fromArray(s, b, p + 6 * l).fma(u, b6);
            b7 = FloatVector.fromArray(s, b, p + 7 * l).fma(u, b7);
        }
        if (e < e1) {
            int o = base + colIdx[e] * ldb;
            FloatVector v = FloatVector.broadcast(s, values[e]);
            a0 = FloatVector.fromArray(s, b, o).fma(v, a0);
            a1 = FloatVector.fromArray(s, b, o + l).fma(v, a1);
            a2 = FloatVector.fromArray(s, b, o + 2 * l).fma(v, a2);
            a3 = FloatVector.fromArray(s, b, o + 3 * l).fma(v, a3);
            a4 = FloatVector.fromArray(s, b, o + 4 * l).fma(v, a4);
            a5 = FloatVector.fromArray(s, b, o + 5 * l).fma(v, a5);
            a6 = FloatVector.fromArray(s, b, o + 6 * l).fma(v, a6);
            a7 = FloatVector.fromArray(s, b, o + 7 * l).fma(v, a7);
        }
        a0 = a0.add(b0);
        a1 = a1.add(b1);
        a2 = a2.add(b2);
        a3 = a3.add(b3);
        a4 = a4.add(b4);
        a5 = a5.add(b5);
        a6 = a6.add(b6);
        a7 = a7.add(b7);
        if (add) {
            a0 = a0.add(FloatVector.fromArray(s, c, cAt));
            a1 = a1.add(FloatVector.fromArray(s, c, cAt + l));
            a2 = a2.add(FloatVector.fromArray(s, c, cAt + 2 * l));
            a3 = a3.add(FloatVector.fromArray(s, c, cAt + 3 * l));
            a4 = a4.add(FloatVector.fromArray(s, c, cAt + 4 * l));
            a5 = a5.add(FloatVector.fromArray(s, c, cAt + 5 * l));
            a6 = a6.add(FloatVector.fromArray(s, c, cAt + 6 * l));
            a7 = a7.add(FloatVector.fromArray(s, c, cAt + 7 * l));
        }
        a0.intoArray(c, cAt);
        a1.intoArray(c, cAt + l);
        a2.intoArray(c, cAt + 2 * l);
        a3.intoArray(c, cAt + 3 * l);
        a4.intoArray(c, cAt + 4 * l);
        a5.intoArray(c, cAt + 5 * l);
        a6.intoArray(c, cAt + 6 * l);
        a7.intoArray(c, cAt + 7 * l);
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
