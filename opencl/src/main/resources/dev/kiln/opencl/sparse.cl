// Sparse (A) times dense (B, k x n row-major) into dense C (m x n row-major, overwritten), f32 values,
// s32 indices; the layouts are SpmmDesc's. Each work-item owns 16 adjacent output columns j0.. of one row:
// it walks the stored values of its row in storage order and accumulates a * B[col][j0..] in f32 with one
// float16 load of B's row per stored value and one float16 store, so the work is SIMD whatever the driver
// makes of the work-item loop (POCL ran a one-element-per-work-item version largely scalar, 15-30x slower).
// The last partial block of columns takes them one at a time, in the same order. Each element has one
// owner, so every run gives the same bits. The host launches ceil(n / 16) x m work-items, rounded up to
// whole work-groups.

/** CSR: rowPtr (m+1), colIdx and values (nnz). */
__kernel void spmm_csr(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                       __global const float* b, __global float* c, int m, int n) {
    const int j0 = get_global_id(0) * 16, row = get_global_id(1);
    if (j0 >= n || row >= m) return;
    const int start = rowPtr[row], end = rowPtr[row + 1];
    if (j0 + 16 <= n) {
        float16 acc = (float16) (0.0f);
        for (int e = start; e < end; e++) acc = fma((float16) (values[e]), vload16(0, b + (long) colIdx[e] * n + j0), acc);
        vstore16(acc, 0, c + (long) row * n + j0);
        return;
    }
    for (int j = j0; j < n; j++) {
        float acc = 0.0f;
        for (int e = start; e < end; e++) acc = fma(values[e], b[(long) colIdx[e] * n + j], acc);
        c[(long) row * n + j] = acc;
    }
}

/** BSR: rowPtr per block row, colIdx per stored block (a block column), values row-major br x bc per block. */
__kernel void spmm_bsr(__global const int* rowPtr, __global const int* colIdx, __global const float* values,
                       __global const float* b, __global float* c, int m, int n, int br, int bc) {
    const int j0 = get_global_id(0) * 16, row = get_global_id(1);
    if (j0 >= n || row >= m) return;
    const int blockRow = row / br, i = row % br;
    const int start = rowPtr[blockRow], end = rowPtr[blockRow + 1];
    if (j0 + 16 <= n) {
        float16 acc = (float16) (0.0f);
        for (int e = start; e < end; e++) {
            __global const float* v = values + ((long) e * br + i) * bc;
            __global const float* bRows = b + (long) colIdx[e] * bc * n + j0;
            for (int t = 0; t < bc; t++) acc = fma((float16) (v[t]), vload16(0, bRows + (long) t * n), acc);
        }
        vstore16(acc, 0, c + (long) row * n + j0);
        return;
    }
    for (int j = j0; j < n; j++) {
        float acc = 0.0f;
        for (int e = start; e < end; e++) {
            __global const float* v = values + ((long) e * br + i) * bc;
            const long col0 = (long) colIdx[e] * bc;
            for (int t = 0; t < bc; t++) acc = fma(v[t], b[(col0 + t) * n + j], acc);
        }
        c[(long) row * n + j] = acc;
    }
}

/** 2:4: k/2 values per row, value e's position in its group of four in bits 2(e%4) of meta byte e/4. */
__kernel void spmm_24(__global const float* values, __global const uchar* meta, __global const float* b,
                      __global float* c, int m, int n, int k) {
    const int j0 = get_global_id(0) * 16, row = get_global_id(1);
    if (j0 >= n || row >= m) return;
    const int perRow = k / 2;
    if (j0 + 16 <= n) {
        float16 acc = (float16) (0.0f);
        for (int kept = 0; kept < perRow; kept++) {
            const long e = (long) row * perRow + kept;
            const int pos = (meta[e >> 2] >> (2 * (int) (e & 3))) & 3;
            acc = fma((float16) (values[e]), vload16(0, b + (long) ((kept / 2) * 4 + pos) * n + j0), acc);
        }
        vstore16(acc, 0, c + (long) row * n + j0);
        return;
    }
    for (int j = j0; j < n; j++) {
        float acc = 0.0f;
        for (int kept = 0; kept < perRow; kept++) {
            const long e = (long) row * perRow + kept;
            const int pos = (meta[e >> 2] >> (2 * (int) (e & 3))) & 3;
            acc = fma(values[e], b[(long) ((kept / 2) * 4 + pos) * n + j], acc);
        }
        c[(long) row * n + j] = acc;
    }
}
