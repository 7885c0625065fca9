// f32 GEMM for the Kiln CUDA backend (host side: CudaGemm.java).
//
// C = act(alpha * op(A) * op(B) + beta * C + bias), all matrices row-major, op(A) m x k, op(B) k x n,
// C m x n with leading dimension ldc. A untransposed has m rows of lda elements; transposed, k rows
// (so element (i, p) of op(A) is A[p * lda + i]). Likewise B. Batch b uses A + b*strideA, B + b*strideB,
// C + b*strideC (elements). beta == 0 means C is write-only: it is never read, so NaNs in it vanish.
// Accumulation is in f32, one FMA chain per output element (k terms).
//
// Scheme: a 128 x 128 block tile per 256-thread block, each thread owns 8 x 8 outputs (register
// blocking) held as two 4 x 4 quadrants 64 rows/columns apart, so that a quarter-warp reading its
// four-float fragments from shared memory touches 128 contiguous bytes (no bank conflicts). Tiles of
// A and B are staged k-major in shared memory, double-buffered: the next tile's global loads are issued
// into registers before the current tile is multiplied, and stored after, with one barrier per step.
// Global loads use float4 when the host says the operand is 16-byte aligned (flags) and the four
// elements lie inside the matrix; otherwise scalar loads with zero fill, so every m, n, k works.
// The four transpose combinations are template instances (sgemm_nn, sgemm_nt, sgemm_tn, sgemm_tt).
//
// Build variants (cuda/build-device-code.sh): KILN_GEMM_BK is the k depth of a tile (8 or 16) and
// KILN_GEMM_MIN_BLOCKS the resident blocks per SM asked of ptxas. The compute_80 baseline uses 8 and 2
// (128 registers, no spills, two blocks per SM). The sm_90 build uses 16 and 1: half the barriers per
// k step and twice the FMAs between them to hide global latency, at about 150 registers (one block
// per SM); capping it at 128 registers spills. Not yet timed on a GPU: bench/ should confirm it.

#include "gemm_tiles.cuh"

template <bool TA, bool TB>
__device__ __forceinline__ void sgemm(int m, int n, int k,
                                      const float* __restrict__ A, int lda, long long strideA,
                                      const float* __restrict__ B, int ldb, long long strideB,
                                      float* __restrict__ C, int ldc, long long strideC,
                                      float alpha, float beta, const float* __restrict__ bias, int act,
                                      int batch, int flags) {
    __shared__ __align__(16) float As[2][BK][BM + PAD];
    __shared__ __align__(16) float Bs[2][BK][BN + PAD];
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
    const bool vecA = flags & FLAG_VEC_A, vecB = flags & FLAG_VEC_B, vecC = flags & FLAG_VEC_C;
    const int ktiles = (k + BK - 1) / BK;

    for (int b = blockIdx.z; b < batch; b += gridDim.z) {
        const float* Ab = A + b * strideA;
        const float* Bb = B + b * strideB;
        float* Cb = C + b * strideC;
        float acc[8][8];
        #pragma unroll
        for (int i = 0; i < 8; ++i)
            #pragma unroll
            for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

        float ra[LOADS][4], rb[LOADS][4];
        if (ktiles > 0) {
            load_a<TA>(Ab, lda, m, k, bm, 0, vecA, ra);
            load_b<TB>(Bb, ldb, n, k, bn, 0, vecB, rb);
            store_a<TA>(As[0], ra);
            store_b<TB>(Bs[0], rb);
        }
        __syncthreads();
        for (int t = 0; t < ktiles; ++t) {
            const int cur = t & 1;
            const bool more = t + 1 < ktiles;
            if (more) {
                load_a<TA>(Ab, lda, m, k, bm, (t + 1) * BK, vecA, ra);
                load_b<TB>(Bb, ldb, n, k, bn, (t + 1) * BK, vecB, rb);
            }
            #pragma unroll
            for (int p = 0; p < BK; ++p) {
                float4 a0 = *reinterpret_cast<const float4*>(&As[cur][p][ty * 4]);
                float4 a1 = *reinterpret_cast<const float4*>(&As[cur][p][64 + ty * 4]);
                float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][p][tx * 4]);
                float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][p][64 + tx * 4]);
                const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
                const float bb[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
                #pragma unroll
                for (int i = 0; i < 8; ++i)
                    #pragma unroll
                    for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], bb[j], acc[i][j]);
            }
            if (more) {
                // Buffer cur^1 was last read in step t-1, which every thread finished before the barrier.
                store_a<TA>(As[cur ^ 1], ra);
                store_b<TB>(Bs[cur ^ 1], rb);
            }
            __syncthreads();
        }

        #pragma unroll
        for (int i = 0; i < 8; ++i) {
            int r = bm + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
            if (r < m) {
                float* crow = Cb + (long long)r * ldc;
                store_c4(crow, bn + tx * 4, n, &acc[i][0], alpha, beta, bias, act, vecC);
                store_c4(crow, bn + 64 + tx * 4, n, &acc[i][4], alpha, beta, bias, act, vecC);
            }
        }
    }
}

#define SGEMM_ENTRY(name, TA, TB)                                                                         \
    extern "C" __global__ void __launch_bounds__(THREADS, KILN_GEMM_MIN_BLOCKS)                           \
    name(int m, int n, int k, const float* __restrict__ A, int lda, long long strideA,                    \
         const float* __restrict__ B, int ldb, long long strideB, float* __restrict__ C, int ldc,          \
         long long strideC, float alpha, float beta, const float* __restrict__ bias, int act, int batch,   \
         int flags) {                                                                                      \
        sgemm<TA, TB>(m, n, k, A, lda, strideA, B, ldb, strideB, C, ldc, strideC, alpha, beta, bias, act, \
                      batch, flags);                                                                       \
    }

SGEMM_ENTRY(sgemm_nn, false, false)
SGEMM_ENTRY(sgemm_nt, false, true)
SGEMM_ENTRY(sgemm_tn, true, false)
SGEMM_ENTRY(sgemm_tt, true, true)
