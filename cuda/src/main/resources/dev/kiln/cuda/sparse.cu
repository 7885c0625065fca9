// Sparse products for the Kiln CUDA backend (host side: CudaSparse.java; launch shapes and argument order:
// CudaSparseLaunch.java). Layouts are SpmmDesc's, DsmmDesc's and SddmmDesc's: f32 values, s32 indices, CSR
// column indices ascending within a row, 2:4 metadata as bytes. The oracles are dev.kiln.kernels.ref.RefSpmm,
// RefDsmm and RefSddmm (which sum in double; these kernels sum in f32 with fmaf).
//
// Deterministic without atomics: every output element has one owning thread (or one warp, whose lanes'
// partial sums meet in a fixed butterfly), which adds its terms in storage order, so every run gives the same
// bits. dsmm_n is the one scatter (a stored value of S adds into a whole column of C): its block owns a tile of
// C in shared memory and visits the sparse rows in order with a barrier between them, so each accumulator gets
// its terms in ascending row order whichever thread adds them.
// Indices are trusted as the references trust them (the facade checks sizes, not index contents); the one
// shared-memory scatter still skips a column outside its tile, so a bad index cannot corrupt shared memory.

#define SPMM_COLS 4        // CudaSparseLaunch.SPMM_COLS: output columns per thread in the spmm kernels
#define DSMM_T_ROWS 4      // CudaSparseLaunch.DSMM_T_ROWS: rows of A per thread in dsmm_t
#define DSMM_N_ROWS 8      // CudaSparseLaunch.DSMM_N_ROWS: rows of C per dsmm_n block, at most
#define DSMM_N_COLS 1024   // CudaSparseLaunch.DSMM_N_COLS: columns of C per dsmm_n block, at most
#define DSMM_N_CHUNK 32    // CudaSparseLaunch.DSMM_N_CHUNK: sparse rows whose column ranges dsmm_n looks up together

__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// --- SpMM: C (m x n) = A (m x k, sparse) B (k x n) ---------------------------------------------------------
//
// Thread mapping of spmm_csr / spmm_bsr / spmm_24: a block of blockDim.x threads is `lanes` threads wide
// along n (a power of two, at most 32) and blockDim.x / lanes rows tall. The thread at lane l of column tile
// blockIdx.x owns columns tile * lanes * SPMM_COLS + q * lanes + l (q < SPMM_COLS) of its row, so neighbouring
// lanes read neighbouring elements of a B row and a warp shares its row's indices and values. Rows start at
// blockIdx.y and stride by gridDim.y blocks. SpMV (n = 1) runs with lanes = 1: a thread per row.

// The SPMM_COLS outputs of one thread in one row.
struct ColTile {
    float acc[SPMM_COLS];
    int j0, lanes, n;

    __device__ __forceinline__ ColTile(int lanes_, int n_) : lanes(lanes_), n(n_) {
        j0 = blockIdx.x * lanes * SPMM_COLS + (threadIdx.x & (lanes - 1));
        #pragma unroll
        for (int q = 0; q < SPMM_COLS; ++q) acc[q] = 0.f;
    }

    // acc += v * bRow[own columns]
    __device__ __forceinline__ void add(float v, const float* __restrict__ bRow) {
        #pragma unroll
        for (int q = 0; q < SPMM_COLS; ++q) {
            const int j = j0 + q * lanes;
            if (j < n) acc[q] = fmaf(v, bRow[j], acc[q]);
        }
    }

    __device__ __forceinline__ void store(float* __restrict__ cRow) const {
        #pragma unroll
        for (int q = 0; q < SPMM_COLS; ++q) {
            const int j = j0 + q * lanes;
            if (j < n) cRow[j] = acc[q];
        }
    }
};

// Rows of this thread: the first, and the stride (both in rows).
__device__ __forceinline__ int spmm_first_row(int lanes) { return blockIdx.y * (blockDim.x / lanes) + threadIdx.x / lanes; }
__device__ __forceinline__ int spmm_row_step(int lanes) { return gridDim.y * (blockDim.x / lanes); }

// CSR: rowPtr (m+1), colIdx and values (nnz).
extern "C" __global__ void spmm_csr(const int* __restrict__ rowPtr, const int* __restrict__ colIdx,
                                    const float* __restrict__ values, const float* __restrict__ b, float* __restrict__ c,
                                    int m, int n, int lanes) {
    for (int row = spmm_first_row(lanes); row < m; row += spmm_row_step(lanes)) {
        ColTile t(lanes, n);
        const int end = rowPtr[row + 1];
        for (int e = rowPtr[row]; e < end; ++e) t.add(values[e], b + (long long)colIdx[e] * n);
        t.store(c + (long long)row * n);
    }
}

// BSR: rowPtr per block row (m/br+1), colIdx per stored block (a block column), values br x bc row-major per block.
extern "C" __global__ void spmm_bsr(const int* __restrict__ rowPtr, const int* __restrict__ colIdx,
                                    const float* __restrict__ values, const float* __restrict__ b, float* __restrict__ c,
                                    int m, int n, int lanes, int br, int bc) {
    for (int row = spmm_first_row(lanes); row < m; row += spmm_row_step(lanes)) {
        ColTile t(lanes, n);
        const int blockRow = row / br, i = row - blockRow * br;
        const int end = rowPtr[blockRow + 1];
        for (int e = rowPtr[blockRow]; e < end; ++e) {
            const float* v = values + ((long long)e * br + i) * bc;
            const float* bBlock = b + (long long)colIdx[e] * bc * n;
            for (int x = 0; x < bc; ++x) t.add(v[x], bBlock + (long long)x * n);
        }
        t.store(c + (long long)row * n);
    }
}

// 2:4: k/2 values per row; value e sits at position (meta[e/4] >> 2(e%4)) & 3 of its group of four.
extern "C" __global__ void spmm_24(const float* __restrict__ values, const unsigned char* __restrict__ meta,
                                   const float* __restrict__ b, float* __restrict__ c, int m, int n, int k, int lanes) {
    const int perRow = k / 2;
    for (int row = spmm_first_row(lanes); row < m; row += spmm_row_step(lanes)) {
        ColTile t(lanes, n);
        const long long e0 = (long long)row * perRow;
        for (int kept = 0; kept < perRow; ++kept) {
            const long long e = e0 + kept;
            const int pos = (meta[e >> 2] >> (2 * (int)(e & 3))) & 3;
            t.add(values[e], b + (long long)((kept >> 1) * 4 + pos) * n);
        }
        t.store(c + (long long)row * n);
    }
}

// CSR SpMV (n = 1) with long rows: a warp per row, lanes striding the row, partial sums meeting in warp_sum;
// lane 0 writes. Rows start at blockIdx.x and stride by gridDim.x blocks (uniform within a warp).
extern "C" __global__ void spmv_csr_warp(const int* __restrict__ rowPtr, const int* __restrict__ colIdx,
                                         const float* __restrict__ values, const float* __restrict__ x,
                                         float* __restrict__ y, int m) {
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int row = blockIdx.x * warps + (threadIdx.x >> 5); row < m; row += gridDim.x * warps) {
        float s = 0.f;
        const int end = rowPtr[row + 1];
        for (int e = rowPtr[row] + lane; e < end; e += 32) s = fmaf(values[e], x[colIdx[e]], s);
        s = warp_sum(s);
        if (lane == 0) y[row] = s;
    }
}

// --- Dense x sparse: C (m x n) = A (m x k) op(S) -------------------------------------------------------------

// C = A S^T, S n x k in CSR (a sparse Linear forward). Thread j (along the block) owns C[i][j] for DSMM_T_ROWS
// consecutive rows i of A, walks row j of S once and uses each stored value for all of them; row groups start
// at blockIdx.y and stride by gridDim.y.
extern "C" __global__ void dsmm_t(const float* __restrict__ a, const int* __restrict__ rowPtr,
                                  const int* __restrict__ colIdx, const float* __restrict__ values, float* __restrict__ c,
                                  int m, int n, int k) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    const int start = rowPtr[j], end = rowPtr[j + 1];
    for (int i0 = blockIdx.y * DSMM_T_ROWS; i0 < m; i0 += gridDim.y * DSMM_T_ROWS) {
        const int rows = min(DSMM_T_ROWS, m - i0);
        const float* a0 = a + (long long)i0 * k;
        float acc[DSMM_T_ROWS];
        #pragma unroll
        for (int r = 0; r < DSMM_T_ROWS; ++r) acc[r] = 0.f;
        for (int e = start; e < end; ++e) {
            const float v = values[e];
            const int col = colIdx[e];
            #pragma unroll
            for (int r = 0; r < DSMM_T_ROWS; ++r)
                if (r < rows) acc[r] = fmaf(a0[(long long)r * k + col], v, acc[r]);
        }
        #pragma unroll
        for (int r = 0; r < DSMM_T_ROWS; ++r)
            if (r < rows) c[(long long)(i0 + r) * n + j] = acc[r];
    }
}

// First position in [lo, hi) of the ascending idx whose value is >= key (hi if none).
__device__ __forceinline__ int lower_bound(const int* __restrict__ idx, int lo, int hi, int key) {
    while (lo < hi) {
        const int mid = lo + ((hi - lo) >> 1);
        if (idx[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// C = A S, S k x n in CSR (a sparse Linear input gradient): each stored (r, col, v) adds A[i][r] v to C[i][col].
// The block owns C[i0 .. i0+rowsPerBlock) x [c0 .. c0+tileCols) in shared memory (row groups stride by gridDim.y,
// column tiles are blockIdx.x) and visits the sparse rows in order, DSMM_N_CHUNK at a time: first the chunk's
// entry ranges inside the tile (binary searches, one thread per row, skipped when one tile spans n), then row
// by row, the block's threads splitting the row's entries, a barrier after each non-empty row. Within a row the
// columns are distinct, so no accumulator has two writers between barriers, and each gets its terms in
// ascending r. blockDim.x >= DSMM_N_CHUNK; rowsPerBlock * tileCols <= DSMM_N_ROWS * DSMM_N_COLS.
extern "C" __global__ void dsmm_n(const float* __restrict__ a, const int* __restrict__ rowPtr,
                                  const int* __restrict__ colIdx, const float* __restrict__ values, float* __restrict__ c,
                                  int m, int n, int k, int rowsPerBlock, int tileCols) {
    __shared__ float acc[DSMM_N_ROWS * DSMM_N_COLS];
    __shared__ int spanStart[DSMM_N_CHUNK], spanEnd[DSMM_N_CHUNK];
    const int c0 = blockIdx.x * tileCols, cols = min(tileCols, n - c0);
    const bool wholeRows = tileCols >= n;
    for (int i0 = blockIdx.y * rowsPerBlock; i0 < m; i0 += gridDim.y * rowsPerBlock) {   // uniform in the block
        const int rows = min(rowsPerBlock, m - i0), cells = rows * cols;
        const float* a0 = a + (long long)i0 * k;
        for (int t = threadIdx.x; t < cells; t += blockDim.x) acc[t] = 0.f;
        for (int r0 = 0; r0 < k; r0 += DSMM_N_CHUNK) {
            const int chunk = min(DSMM_N_CHUNK, k - r0);
            if (threadIdx.x < chunk) {
                const int r = r0 + threadIdx.x;
                int lo = rowPtr[r], hi = rowPtr[r + 1];
                if (!wholeRows) {
                    lo = lower_bound(colIdx, lo, hi, c0);
                    hi = lower_bound(colIdx, lo, hi, c0 + cols);
                }
                spanStart[threadIdx.x] = lo;
                spanEnd[threadIdx.x] = hi;
            }
            __syncthreads();   // the spans are written, and (first chunk) acc is zeroed
            for (int q = 0; q < chunk; ++q) {
                const int lo = spanStart[q], hi = spanEnd[q];
                if (lo == hi) continue;   // the same answer in every thread: the barrier below stays uniform
                const float* ar = a0 + r0 + q;
                for (int e = lo + threadIdx.x; e < hi; e += blockDim.x) {
                    const int at = colIdx[e] - c0;
                    if ((unsigned)at >= (unsigned)cols) continue;
                    const float v = values[e];
                    for (int i = 0; i < rows; ++i) acc[i * cols + at] = fmaf(ar[(long long)i * k], v, acc[i * cols + at]);
                }
                __syncthreads();   // row r0+q is in before row r0+q+1 touches the same columns
            }
            __syncthreads();   // every thread is done with the spans before the next chunk writes them
        }
        for (int t = threadIdx.x; t < cells; t += blockDim.x) {
            const int i = t / cols;
            c[(long long)(i0 + i) * n + c0 + (t - i * cols)] = acc[t];
        }
        __syncthreads();   // acc is read out before the next row group zeroes it
    }
}

// --- SDDMM: VALUES[e] = A'[row(e)] . B'[col(e)] over k ----------------------------------------------------------

// The row of stored value e < nnz: the last r < m with rowPtr[r] <= e (empty rows repeat rowPtr values).
__device__ __forceinline__ int row_of(const int* __restrict__ rowPtr, int m, int e) {
    int lo = 0, hi = m;   // rowPtr[lo] <= e < rowPtr[hi]
    while (hi - lo > 1) {
        const int mid = lo + ((hi - lo) >> 1);
        if (rowPtr[mid] <= e) lo = mid;
        else hi = mid;
    }
    return lo;
}

// A thread per stored value, summing p in order; A'[row][p] = a[row * aRow + p * aStep] and likewise B'. Serves
// the transposed inputs (aRow = 1, aStep = m: neighbouring values of a row read neighbouring B columns) and
// short k. Values stride by the whole grid.
extern "C" __global__ void sddmm_thread(const float* __restrict__ a, const float* __restrict__ b,
                                        const int* __restrict__ rowPtr, const int* __restrict__ colIdx,
                                        float* __restrict__ values, int m, int k, int nnz,
                                        int aRow, int aStep, int bRow, int bStep) {
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < nnz; e += gridDim.x * blockDim.x) {
        const float* ap = a + (long long)row_of(rowPtr, m, e) * aRow;
        const float* bp = b + (long long)colIdx[e] * bRow;
        float s = 0.f;
        for (int p = 0; p < k; ++p) s = fmaf(ap[(long long)p * aStep], bp[(long long)p * bStep], s);
        values[e] = s;
    }
}

// A warp per stored value, for row-major A (m x k) and B (n x k): lanes stride p (coalesced), warp_sum joins
// them, lane 0 writes. Values stride by the grid's warps (uniform within a warp).
extern "C" __global__ void sddmm_warp(const float* __restrict__ a, const float* __restrict__ b,
                                      const int* __restrict__ rowPtr, const int* __restrict__ colIdx,
                                      float* __restrict__ values, int m, int k, int nnz) {
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int e = blockIdx.x * warps + (threadIdx.x >> 5); e < nnz; e += gridDim.x * warps) {
        const float* ap = a + (long long)row_of(rowPtr, m, e) * k;
        const float* bp = b + (long long)colIdx[e] * k;
        float s = 0.f;
        for (int p = lane; p < k; p += 32) s = fmaf(ap[p], bp[p], s);
        s = warp_sum(s);
        if (lane == 0) values[e] = s;
    }
}
