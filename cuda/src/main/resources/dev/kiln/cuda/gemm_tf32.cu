// f32 GEMM on tensor cores in TF32 (host side: CudaGemmTf32.java; opt-in, compute capability 8.0+).
//
// Same contract, operands, epilogue and launch as gemm.cu (C = act(alpha op(A) op(B) + beta C + bias),
// row-major, batched, beta == 0 never reads C), but the products are mma.sync.aligned.m16n8k8 with A and B
// rounded to TF32 (10-bit mantissa, cvt.rna) and f32 accumulation, so results differ from FFMA by about
// 2^-11 relative per product: the host offers it only when asked (KILN_CUDA_TF32=1).
//
// Scheme: the 128 x 128 block tile, 256 threads and double-buffered k-major shared tiles of gemm.cu
// (gemm_tiles.cuh, BK = 16: two k8 steps per tile). The 8 warps form 2 (m) x 4 (n); each warp owns a
// 64 x 32 piece = 4 x 4 mma tiles of 16 x 8, i.e. 64 f32 accumulators per thread. Fragment ownership for
// m16n8k8 .tf32 (PTX ISA), with g = lane / 4 and t = lane % 4:
//   A (16 x 8, row): a0 (g, t)  a1 (g + 8, t)  a2 (g, t + 4)  a3 (g + 8, t + 4)      (row, k)
//   B (8 x 8, col):  b0 (t, g)  b1 (t + 4, g)                                         (k, col)
//   C (16 x 8):      c0 (g, 2t) c1 (g, 2t + 1) c2 (g + 8, 2t) c3 (g + 8, 2t + 1)      (row, col)
// As[k][m] and Bs[k][n] hold the tiles k-major, so a fragment element is As[kk + k][row] / Bs[kk + k][col].
// One resident block per SM asked of ptxas (about 135 registers, no spills): capped at 128 for two blocks it
// spills about 540 bytes in three of the four variants. Not yet timed on a GPU; bench-gemm-tf32 will say.

#define KILN_GEMM_BK 16
#define KILN_GEMM_MIN_BLOCKS 1
#include "gemm_tiles.cuh"

#define WARP_M 64
#define WARP_N 32

__device__ __forceinline__ unsigned to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// One output of the epilogue: alpha*acc (+ beta*C) (+ bias), then the activation; bounds-checked.
__device__ __forceinline__ void store_c1(float* __restrict__ C, int ldc, int m, int n, int row, int col, float acc,
                                         float alpha, float beta, const float* __restrict__ bias, int act) {
    if (row >= m || col >= n) return;
    float* p = C + (long long)row * ldc + col;
    float v = alpha * acc;
    if (beta != 0.f) v += beta * *p;
    if (bias) v += bias[col];
    *p = activate(v, act);
}

template <bool TA, bool TB>
__device__ __forceinline__ void sgemm_tf32(int m, int n, int k,
                                           const float* __restrict__ A, int lda, long long strideA,
                                           const float* __restrict__ B, int ldb, long long strideB,
                                           float* __restrict__ C, int ldc, long long strideC,
                                           float alpha, float beta, const float* __restrict__ bias, int act,
                                           int batch, int flags) {
    __shared__ __align__(16) float As[2][BK][BM + PAD];
    __shared__ __align__(16) float Bs[2][BK][BN + PAD];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 2) * WARP_M, wn = (warp & 3) * WARP_N;   // the warp's piece within the block tile
    const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
    const bool vecA = flags & FLAG_VEC_A, vecB = flags & FLAG_VEC_B;
    const int ktiles = (k + BK - 1) / BK;

    for (int b = blockIdx.z; b < batch; b += gridDim.z) {
        const float* Ab = A + b * strideA;
        const float* Bb = B + b * strideB;
        float* Cb = C + b * strideC;
        float acc[4][4][4];
        #pragma unroll
        for (int i = 0; i < 4; ++i)
            #pragma unroll
            for (int j = 0; j < 4; ++j)
                #pragma unroll
                for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.f;

        float ra[LOADS][4], rb[LOADS][4];
        if (ktiles > 0) {
            load_a<TA>(Ab, lda, m, k, bm, 0, vecA, ra);
            load_b<TB>(Bb, ldb, n, k, bn, 0, vecB, rb);
            store_a<TA>(As[0], ra);
            store_b<TB>(Bs[0], rb);
        }
        __syncthreads();
        for (int tile = 0; tile < ktiles; ++tile) {
            const int cur = tile & 1;
            const bool more = tile + 1 < ktiles;
            if (more) {
                load_a<TA>(Ab, lda, m, k, bm, (tile + 1) * BK, vecA, ra);
                load_b<TB>(Bb, ldb, n, k, bn, (tile + 1) * BK, vecB, rb);
            }
            #pragma unroll
            for (int kk = 0; kk < BK; kk += 8) {
                unsigned af[4][4], bf[4][2];
                #pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = wm + i * 16 + g;
                    af[i][0] = to_tf32(As[cur][kk + t][row]);
                    af[i][1] = to_tf32(As[cur][kk + t][row + 8]);
                    af[i][2] = to_tf32(As[cur][kk + t + 4][row]);
                    af[i][3] = to_tf32(As[cur][kk + t + 4][row + 8]);
                }
                #pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = wn + j * 8 + g;
                    bf[j][0] = to_tf32(Bs[cur][kk + t][col]);
                    bf[j][1] = to_tf32(Bs[cur][kk + t + 4][col]);
                }
                #pragma unroll
                for (int i = 0; i < 4; ++i)
                    #pragma unroll
                    for (int j = 0; j < 4; ++j) mma_tf32(acc[i][j], af[i], bf[j]);
            }
            if (more) {
                // Buffer cur^1 was last read in step tile-1, which every thread finished before the barrier.
                store_a<TA>(As[cur ^ 1], ra);
                store_b<TB>(Bs[cur ^ 1], rb);
            }
            __syncthreads();
        }

        #pragma unroll
        for (int i = 0; i < 4; ++i)
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int row = bm + wm + i * 16 + g, col = bn + wn + j * 8 + 2 * t;
                store_c1(Cb, ldc, m, n, row, col, acc[i][j][0], alpha, beta, bias, act);
                store_c1(Cb, ldc, m, n, row, col + 1, acc[i][j][1], alpha, beta, bias, act);
                store_c1(Cb, ldc, m, n, row + 8, col, acc[i][j][2], alpha, beta, bias, act);
                store_c1(Cb, ldc, m, n, row + 8, col + 1, acc[i][j][3], alpha, beta, bias, act);
            }
    }
}

#define TF32_ENTRY(name, TA, TB)                                                                          \
    extern "C" __global__ void __launch_bounds__(THREADS, KILN_GEMM_MIN_BLOCKS)                           \
    name(int m, int n, int k, const float* __restrict__ A, int lda, long long strideA,                    \
         const float* __restrict__ B, int ldb, long long strideB, float* __restrict__ C, int ldc,          \
         long long strideC, float alpha, float beta, const float* __restrict__ bias, int act, int batch,   \
         int flags) {                                                                                      \
        sgemm_tf32<TA, TB>(m, n, k, A, lda, strideA, B, ldb, strideB, C, ldc, strideC, alpha, beta, bias, \
                           act, batch, flags);                                                             \
    }

TF32_ENTRY(sgemm_tf32_nn, false, false)
TF32_ENTRY(sgemm_tf32_nt, false, true)
TF32_ENTRY(sgemm_tf32_tn, true, false)
TF32_ENTRY(sgemm_tf32_tt, true, true)
