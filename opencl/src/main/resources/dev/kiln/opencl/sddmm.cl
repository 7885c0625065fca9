// Sampled dense-dense product (SddmmDesc): for each stored entry e = (row, col) of a CSR mask (m x n, s32
// indices, columns ascending within a row), values[e] = the dot product over p < k of A'[row][p] and
// B'[col][p], in f32 with fma. Each stored entry has one owning work-item, so nothing is atomic and
// every run gives the same bits. An entry finds its row by a binary search of rowPtr, which
// skips empty rows by itself: the row holding entry e is the last one whose start is at most e.

/** The row of stored entry e: the largest r < m with rowPtr[r] <= e (e < rowPtr[m]). */
inline int row_of(__global const int* rowPtr, int m, int e) {
    int lo = 0, hi = m - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (rowPtr[mid] <= e) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/** The sum of an 8-wide partial-sum vector, pairwise: the same order for every entry. */
inline float sum8(float8 v) {
    const float4 h = v.lo + v.hi;
    const float2 q = h.lo + h.hi;
    return q.lo + q.hi;
}

/** One entry's dot product over k: eight floats at a time, then the remainder in order. */
inline float dot_row(__global const float* ar, __global const float* bc, int k) {
    float8 acc8 = (float8) (0.0f);
    int p = 0;
    for (; p + 8 <= k; p += 8) acc8 = fma(vload8(0, ar + p), vload8(0, bc + p), acc8);
    float acc = sum8(acc8);
    for (; p < k; p++) acc = fma(ar[p], bc[p], acc);
    return acc;
}

/**
 * A (m x k) and B (n x k) row-major: attention scores Q K^T at the mask. Each work-item takes four
 * consecutive entries, so one row search serves four; when the four share a row (the common case) each
 * eight floats of A's row are loaded once for all four B rows. Every entry's sum is formed exactly as
 * dot_row forms it, so which path an entry takes does not change its bits.
 */
__kernel void sddmm(__global const float* a, __global const float* b, __global const int* rowPtr,
                    __global const int* colIdx, __global float* values, int m, int n, int k, int nnz) {
    const int e0 = get_global_id(0) * 4;
    if (e0 >= nnz) return;
    int row = row_of(rowPtr, m, e0), rowEnd = rowPtr[row + 1];
    if (e0 + 4 <= rowEnd) {
        __global const float* ar = a + (long) row * k;
        __global const float* b0 = b + (long) colIdx[e0] * k;
        __global const float* b1 = b + (long) colIdx[e0 + 1] * k;
        __global const float* b2 = b + (long) colIdx[e0 + 2] * k;
        __global const float* b3 = b + (long) colIdx[e0 + 3] * k;
        float8 s0 = (float8) (0.0f), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (; p + 8 <= k; p += 8) {
            const float8 x = vload8(0, ar + p);
            s0 = fma(x, vload8(0, b0 + p), s0);
            s1 = fma(x, vload8(0, b1 + p), s1);
            s2 = fma(x, vload8(0, b2 + p), s2);
            s3 = fma(x, vload8(0, b3 + p), s3);
        }
        float t0 = sum8(s0), t1 = sum8(s1), t2 = sum8(s2), t3 = sum8(s3);
        for (; p < k; p++) {
            const float x = ar[p];
            t0 = fma(x, b0[p], t0);
            t1 = fma(x, b1[p], t1);
            t2 = fma(x, b2[p], t2);
            t3 = fma(x, b3[p], t3);
        }
        values[e0] = t0;
        values[e0 + 1] = t1;
        values[e0 + 2] = t2;
        values[e0 + 3] = t3;
        return;
    }
    const int e1 = min(nnz, e0 + 4);
    for (int e = e0; e < e1; e++) {
        while (e >= rowEnd) rowEnd = rowPtr[++row + 1]; // past the end of this row: on to the next non-empty one
        values[e] = dot_row(a + (long) row * k, b + (long) colIdx[e] * k, k);
    }
}

/** dst (cols x rows) = src (rows x cols)^T, both row-major: the reduce-over-rows inputs made row-major. */
__kernel void sddmm_transpose(__global const float* src, __global float* dst, int rows, int cols) {
    const int c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows) return;
    dst[(long) c * rows + r] = src[(long) r * cols + c];
}

/**
 * A (k x m) and B (k x n) row-major, reduced over their rows: the weight gradient dy^T x at a weight mask,
 * read in place. Only for inputs too large to transpose into scratch: each work-item steps through k rows
 * m and n floats apart, which caches poorly.
 */
__kernel void sddmm_t(__global const float* a, __global const float* b, __global const int* rowPtr,
                      __global const int* colIdx, __global float* values, int m, int n, int k, int nnz) {
    const int e = get_global_id(0);
    if (e >= nnz) return;
    const int row = row_of(rowPtr, m, e), col = colIdx[e];
    float acc = 0.0f;
    for (int p = 0; p < k; p++) acc = fma(a[(long) p * m + row], b[(long) p * n + col], acc);
    values[e] = acc;
}
