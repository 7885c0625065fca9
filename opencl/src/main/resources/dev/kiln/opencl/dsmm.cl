// Dense times sparse (DsmmDesc): C (m x n, row-major, overwritten) = A (m x k, row-major) * op(S), S in CSR
// (f32 values, s32 column indices ascending within a row). Nothing is atomic: every output element has one
// owning work-item that sums its terms in a fixed order, so every run gives the same bits.
//
// dsmm_t and dsmm_t_lanes are the product with S^T (S n x k): C[i][j] sums row j of S against row i of A.
// The plain product (S k x n) first builds S^T in CSR with the csr_transpose_* kernels, then runs one of
// them on it.

/**
 * C = A * S^T, S n x k in CSR. Work-item (i, j): i (a row of A) is the fastest dimension, so a work-group
 * shares one sparse row j and its index and value loads are the same for every work-item of the group.
 */
__kernel void dsmm_t(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                     __global const float* a, __global float* c, int m, int n, int k) {
    const int i = get_global_id(0), j = get_global_id(1);
    if (i >= m || j >= n) return;
    __global const float* ai = a + (long) i * k;
    float acc = 0.0f;
    const int end = rowPtr[j + 1];
    for (int e = rowPtr[j]; e < end; e++) acc = fma(ai[colIdx[e]], values[e], acc);
    c[(long) i * n + j] = acc;
}

/**
 * C = A * S^T again, with A transposed and padded into at (k x mp, mp = m rounded up to DSMM_LANES, zeros
 * beyond m) by dsmm_transpose_a: work-item (ib, j) computes the DSMM_LANES rows i0 = ib * DSMM_LANES...
 * of column j at once, one vector load of at's row per stored value, so the work is SIMD whatever the
 * driver makes of the work-item loop. Each lane sums in the same order as dsmm_t, so the bits agree.
 */
#define DSMM_LANES 16 // the width of float16 below

__kernel void dsmm_transpose_a(__global const float* a, __global float* at, int m, int k, int mp) {
    const int i = get_global_id(0), p = get_global_id(1);
    if (i >= mp || p >= k) return;
    at[(long) p * mp + i] = i < m ? a[(long) i * k + p] : 0.0f;
}

__kernel void dsmm_t_lanes(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                           __global const float* at, __global float* c, int m, int n, int mp) {
    const int i0 = get_global_id(0) * DSMM_LANES, j = get_global_id(1);
    if (i0 >= m || j >= n) return;
    float16 acc = (float16) (0.0f);
    const int end = rowPtr[j + 1];
    for (int e = rowPtr[j]; e < end; e++) acc = fma(vload16(0, at + (long) colIdx[e] * mp + i0), (float16) (values[e]), acc);
    float out[DSMM_LANES];
    vstore16(acc, 0, out);
    const int lanes = min(DSMM_LANES, m - i0);
    for (int t = 0; t < lanes; t++) c[(long) (i0 + t) * n + j] = out[t];
}

/**
 * S^T (cols x rows) in CSR from S (rows x cols) by one work-item: a counting sort (count per column, scan,
 * place each entry, rows ascending, with tPtr[j] as column j's cursor, then shift the cursors back into
 * offsets). O(nnz + rows + cols) work with no search, the quickest way on CPU drivers, where one core
 * streams through the structure in a few milliseconds; GPUs take the parallel kernels below.
 */
__kernel void csr_transpose_serial(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                                   __global int* tPtr, __global int* tIdx, __global float* tVal, int rows, int cols) {
    if (get_global_id(0) != 0) return;
    for (int j = 0; j <= cols; j++) tPtr[j] = 0;
    const int nnz = rowPtr[rows];
    for (int e = 0; e < nnz; e++) tPtr[colIdx[e] + 1]++;
    for (int j = 0; j < cols; j++) tPtr[j + 1] += tPtr[j];
    for (int r = 0; r < rows; r++) {
        const int end = rowPtr[r + 1];
        for (int e = rowPtr[r]; e < end; e++) {
            const int at = tPtr[colIdx[e]]++;
            tIdx[at] = r;
            tVal[at] = values[e];
        }
    }
    for (int j = cols; j > 0; j--) tPtr[j] = tPtr[j - 1]; // cursor j ended at the start of column j + 1
    tPtr[0] = 0;
}

// The transpose gives each work-item a block of TRANSPOSE_BLOCK adjacent columns of S (rows x cols): it
// walks every row once, finds where its block starts by a binary search of the row's ascending indices, and
// takes the entries up to the block's end. Each column has one owner, so no atomics are needed, and rows
// ascend within each column of S^T as a counting sort would give them.
#define TRANSPOSE_BLOCK 16

/** The first position in CSR row {@code row} whose column is at least {@code col}. */
inline int lower_bound_in_row(__global const int* rowPtr, __global const int* colIdx, int row, int col) {
    int lo = rowPtr[row], hi = rowPtr[row + 1];
    while (lo < hi) {
        const int mid = (lo + hi) >> 1;
        if (colIdx[mid] < col) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/** Transpose, step 1: tPtr[j + 1] = the number of stored entries in column j of S. */
__kernel void csr_transpose_count(__global const int* rowPtr, __global const int* colIdx, __global int* tPtr,
                                  int rows, int cols) {
    const int j0 = get_global_id(0) * TRANSPOSE_BLOCK;
    if (j0 >= cols) return;
    const int j1 = min(cols, j0 + TRANSPOSE_BLOCK);
    int count[TRANSPOSE_BLOCK];
    for (int t = 0; t < TRANSPOSE_BLOCK; t++) count[t] = 0;
    for (int r = 0; r < rows; r++) {
        const int end = rowPtr[r + 1];
        for (int e = lower_bound_in_row(rowPtr, colIdx, r, j0); e < end && colIdx[e] < j1; e++) count[colIdx[e] - j0]++;
    }
    for (int j = j0; j < j1; j++) tPtr[j + 1] = count[j - j0];
}

/** Transpose, step 2: the counts into offsets, by one work-item (a serial pass over cols + 1 entries). */
__kernel void csr_transpose_scan(__global int* tPtr, int cols) {
    if (get_global_id(0) != 0) return;
    tPtr[0] = 0;
    for (int j = 0; j < cols; j++) tPtr[j + 1] += tPtr[j];
}

/** Transpose, step 3: each column's entries, rows ascending, into tIdx / tVal from tPtr[j]. */
__kernel void csr_transpose_fill(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                                 __global const int* tPtr, __global int* tIdx, __global float* tVal, int rows, int cols) {
    const int j0 = get_global_id(0) * TRANSPOSE_BLOCK;
    if (j0 >= cols) return;
    const int j1 = min(cols, j0 + TRANSPOSE_BLOCK);
    int at[TRANSPOSE_BLOCK];
    for (int j = j0; j < j1; j++) at[j - j0] = tPtr[j];
    for (int r = 0; r < rows; r++) {
        const int end = rowPtr[r + 1];
        for (int e = lower_bound_in_row(rowPtr, colIdx, r, j0); e < end && colIdx[e] < j1; e++) {
            const int to = at[colIdx[e] - j0]++;
            tIdx[to] = r;
            tVal[to] = values[e];
        }
    }
}
