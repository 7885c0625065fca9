// Sparse (A) times dense (B, k x n row-major) into dense C (m x n row-major, overwritten), f32 values,
// s32 indices; the layouts are SpmmDesc's. One work-item per output element (row, j): it walks the stored
// values of its row in storage order and accumulates a * B[col][j] in f32, so it owns its element and
// every run gives the same bits. Work-item j is the fastest dimension: neighbours read neighbouring B
// elements of the same row. The host rounds n up to whole work-groups.

/** CSR: rowPtr (m+1), colIdx and values (nnz). */
__kernel void spmm_csr(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                       __global const float* b, __global float* c, int m, int n) {
    const int j = get_global_id(0), row = get_global_id(1);
    if (j >= n || row >= m) return;
    float acc = 0.0f;
    const int end = rowPtr[row + 1];
    for (int e = rowPtr[row]; e < end; e++) acc = fma(values[e], b[(long) colIdx[e] * n + j], acc);
    c[(long) row * n + j] = acc;
}

/** BSR: rowPtr per block row, colIdx per stored block (a block column), values row-major br x bc per block. */
__kernel void spmm_bsr(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                       __global const float* b, __global float* c, int m, int n, int br, int bc) {
    const int j = get_global_id(0), row = get_global_id(1);
    if (j >= n || row >= m) return;
    const int blockRow = row / br, i = row % br;
    float acc = 0.0f;
    const int end = rowPtr[blockRow + 1];
    for (int e = rowPtr[blockRow]; e < end; e++) {
        __global const float* v = values + ((long) e * br + i) * bc;
        const long col0 = (long) colIdx[e] * bc;
        for (int t = 0; t < bc; t++) acc = fma(v[t], b[(col0 + t) * n + j], acc);
    }
    c[(long) row * n + j] = acc;
}

/** 2:4: k/2 values per row, value e's position in its group of four in bits 2(e%4) of meta byte e/4. */
__kernel void spmm_24(__global const float* values, __global const uchar* meta, __global const float* b,
                      __global float* c, int m, int n, int k) {
    const int j = get_global_id(0), row = get_global_id(1);
    if (j >= n || row >= m) return;
    const int perRow = k / 2;
    float acc = 0.0f;
    for (int kept = 0; kept < perRow; kept++) {
        const long e = (long) row * perRow + kept;
        const int pos = (meta[e >> 2] >> (2 * (int) (e & 3))) & 3;
        acc = fma(values[e], b[(long) ((kept / 2) * 4 + pos) * n + j], acc);
    }
    c[(long) row * n + j] = acc;
}
