package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.DsmmDesc;


/**
 * Dense times sparse ({@link DsmmDesc}), the sparse-weight Linear layer's forward (C = A S^T) and input
 * gradient (C = A S), computed as a CSR SpMM on transposed operands so that {@link CsrKernel} does the work:
 * C^T = S A^T (forward) and C^T = S^T A^T (gradient; S^T built once per call by a counting sort, which keeps
 * column order, so the result does not depend on the split). A block of A's rows is transposed into a
 * scratch panel, multiplied, and the scratch C^T block transposed back. Tasks are fixed blocks of A rows by
 * blocks of C columns, so the result is the same for any thread count.
 */
final class DenseSparse {
    private DenseSparse() {}

    /** Rows of A per task: the width of the transposed panel (a few vectors, so the SpMM works on whole chunks). */
    private static final int ROWS = 64;
    /** Columns of C (sparse rows) per task. */
    private static final int COLS = 256;
    /** A task's transposed A block and C^T block, per thread (a new array per task was zeroed, then overwritten). */
    private static final Scratch.Floats A_T = new Scratch.Floats(), C_T = new Scratch.Floats();

    static void run(Width w, DsmmDesc d, float[] a, int[] rowPtr, int[] colIdx, float[] values, float[] c) {
        int m = d.m(), n = d.n(), k = d.k();
        int[] ptr = rowPtr, idx = colIdx;
        float[] val = values;
        if (!d.transposeSparse()) { // S is k x n: C^T = S^T A^T needs S^T (n x k) in CSR
            ptr = new int[n + 1];
            idx = new int[d.nnz()];
            val = new float[d.nnz()];
            transpose(k, n, rowPtr, colIdx, values, ptr, idx, val);
        }
        int[] sPtr = ptr, sIdx = idx;
        float[] sVal = val;
        int rowBlocks = (m + ROWS - 1) / ROWS, colBlocks = (n + COLS - 1) / COLS;
        CpuThreads.parallelFor(rowBlocks * colBlocks, t -> {
            int i0 = (t / colBlocks) * ROWS, i1 = Math.min(m, i0 + ROWS), mb = i1 - i0;
            int n0 = (t % colBlocks) * COLS, n1 = Math.min(n, n0 + COLS);
            float[] at = A_T.get(k * mb), ct = C_T.get((n1 - n0) * mb); // both written in full before they are read
            for (int i = 0; i < mb; i++)
                for (int p = 0; p < k; p++) at[p * mb + i] = a[(i0 + i) * k + p];
            CsrKernel.rows(w, sPtr, sIdx, sVal, at, mb, k, ct, mb, n0, n0, n1, 0, mb);
            for (int i = 0; i < mb; i++)
                for (int jj = n0; jj < n1; jj++) c[(i0 + i) * n + jj] = ct[(jj - n0) * mb + i];
        });
    }

    /** CSR of S^T (cols x rows) from S (rows x cols): counting sort by column, rows ascending within each. */
    static void transpose(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values, int[] tPtr, int[] tIdx, float[] tVal) {
        int nnz = rowPtr[rows];
        for (int e = 0; e < nnz; e++) tPtr[colIdx[e] + 1]++;
        for (int j = 0; j < cols; j++) tPtr[j + 1] += tPtr[j];
        int[] next = java.util.Arrays.copyOf(tPtr, cols);
        for (int r = 0; r < rows; r++)
            for (int e = rowPtr[r]; e < rowPtr[r + 1]; e++) {
                int at = next[colIdx[e]]++;
                tIdx[at] = r;
                tVal[at] = values[e];
            }
    }
}
