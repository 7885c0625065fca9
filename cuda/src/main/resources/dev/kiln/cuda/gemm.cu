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

#ifndef KILN_GEMM_BK
#define KILN_GEMM_BK 8
#endif
#ifndef KILN_GEMM_MIN_BLOCKS
#define KILN_GEMM_MIN_BLOCKS 2
#endif

#define BM 128
#define BN 128
#define BK KILN_GEMM_BK
#define THREADS 256
#define PAD 4                                // keeps rows 16-byte aligned, spreads transposed stores
#define LOADS (BK * BM / (4 * THREADS))      // float4-sized loads per thread per operand tile

#define FLAG_VEC_A 1                         // lda and strideA are multiples of 4
#define FLAG_VEC_B 2
#define FLAG_VEC_C 4

static_assert(BK == 8 || BK == 16, "KILN_GEMM_BK must be 8 or 16");
static_assert(LOADS * 4 * THREADS == BK * BM, "tile must split evenly into float4 loads");

// Activation codes are the ordinals of dev.kiln.kernels.desc.Activation.
__device__ __forceinline__ float activate(float v, int act) {
    switch (act) {
        case 1: return v > 0.f ? v : 0.f;
        case 2: return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        case 3: return v / (1.f + expf(-v));
        case 4: return 1.f / (1.f + expf(-v));
        case 5: return tanhf(v);
        default: return v;
    }
}

// Loads LOADS float4 groups of the A tile at depth k0 into regs. Untransposed A is contiguous along k:
// a group is 4 consecutive k of one row. Transposed A is contiguous along m: 4 consecutive rows of one k.
template <bool TA>
__device__ __forceinline__ void load_a(const float* __restrict__ A, int lda, int m, int k, int bm, int k0,
                                       bool vec, float (&r)[LOADS][4]) {
    #pragma unroll
    for (int l = 0; l < LOADS; ++l) {
        int idx = threadIdx.x + l * THREADS;
        int row, kk;
        if (!TA) { row = idx / (BK / 4); kk = (idx % (BK / 4)) * 4; }
        else     { kk = idx / (BM / 4);  row = (idx % (BM / 4)) * 4; }
        int gi = bm + row, gk = k0 + kk;
        if (!TA) {
            const float* p = A + (long long)gi * lda + gk;
            if (gi < m && vec && gk + 3 < k) {
                float4 v = *reinterpret_cast<const float4*>(p);
                r[l][0] = v.x; r[l][1] = v.y; r[l][2] = v.z; r[l][3] = v.w;
            } else {
                #pragma unroll
                for (int q = 0; q < 4; ++q) r[l][q] = (gi < m && gk + q < k) ? p[q] : 0.f;
            }
        } else {
            const float* p = A + (long long)gk * lda + gi;
            if (gk < k && vec && gi + 3 < m) {
                float4 v = *reinterpret_cast<const float4*>(p);
                r[l][0] = v.x; r[l][1] = v.y; r[l][2] = v.z; r[l][3] = v.w;
            } else {
                #pragma unroll
                for (int q = 0; q < 4; ++q) r[l][q] = (gk < k && gi + q < m) ? p[q] : 0.f;
            }
        }
    }
}

template <bool TA>
__device__ __forceinline__ void store_a(float (*As)[BM + PAD], const float (&r)[LOADS][4]) {
    #pragma unroll
    for (int l = 0; l < LOADS; ++l) {
        int idx = threadIdx.x + l * THREADS;
        if (!TA) {
            int row = idx / (BK / 4), kk = (idx % (BK / 4)) * 4;
            #pragma unroll
            for (int q = 0; q < 4; ++q) As[kk + q][row] = r[l][q];
        } else {
            int kk = idx / (BM / 4), row = (idx % (BM / 4)) * 4;
            *reinterpret_cast<float4*>(&As[kk][row]) = make_float4(r[l][0], r[l][1], r[l][2], r[l][3]);
        }
    }
}

// B is the mirror image: untransposed B (k x n) is contiguous along n, transposed (n x k) along k.
template <bool TB>
__device__ __forceinline__ void load_b(const float* __restrict__ B, int ldb, int n, int k, int bn, int k0,
                                       bool vec, float (&r)[LOADS][4]) {
    #pragma unroll
    for (int l = 0; l < LOADS; ++l) {
        int idx = threadIdx.x + l * THREADS;
        int col, kk;
        if (!TB) { kk = idx / (BN / 4);  col = (idx % (BN / 4)) * 4; }
        else     { col = idx / (BK / 4); kk = (idx % (BK / 4)) * 4; }
        int gj = bn + col, gk = k0 + kk;
        if (!TB) {
            const float* p = B + (long long)gk * ldb + gj;
            if (gk < k && vec && gj + 3 < n) {
                float4 v = *reinterpret_cast<const float4*>(p);
                r[l][0] = v.x; r[l][1] = v.y; r[l][2] = v.z; r[l][3] = v.w;
            } else {
                #pragma unroll
                for (int q = 0; q < 4; ++q) r[l][q] = (gk < k && gj + q < n) ? p[q] : 0.f;
            }
        } else {
            const float* p = B + (long long)gj * ldb + gk;
            if (gj < n && vec && gk + 3 < k) {
                float4 v = *reinterpret_cast<const float4*>(p);
                r[l][0] = v.x; r[l][1] = v.y; r[l][2] = v.z; r[l][3] = v.w;
            } else {
                #pragma unroll
                for (int q = 0; q < 4; ++q) r[l][q] = (gj < n && gk + q < k) ? p[q] : 0.f;
            }
        }
    }
}

template <bool TB>
__device__ __forceinline__ void store_b(float (*Bs)[BN + PAD], const float (&r)[LOADS][4]) {
    #pragma unroll
    for (int l = 0; l < LOADS; ++l) {
        int idx = threadIdx.x + l * THREADS;
        if (!TB) {
            int kk = idx / (BN / 4), col = (idx % (BN / 4)) * 4;
            *reinterpret_cast<float4*>(&Bs[kk][col]) = make_float4(r[l][0], r[l][1], r[l][2], r[l][3]);
        } else {
            int col = idx / (BK / 4), kk = (idx % (BK / 4)) * 4;
            #pragma unroll
            for (int q = 0; q < 4; ++q) Bs[kk + q][col] = r[l][q];
        }
    }
}

// Writes one row's four outputs of one quadrant: alpha*acc (+ beta*C) (+ bias), then the activation.
__device__ __forceinline__ void store_c4(float* __restrict__ crow, int c0, int n, const float* acc, float alpha,
                                         float beta, const float* __restrict__ bias, int act, bool vec) {
    float v[4];
    #pragma unroll
    for (int q = 0; q < 4; ++q) v[q] = alpha * acc[q];
    if (vec && c0 + 3 < n) {
        if (beta != 0.f) {
            float4 c = *reinterpret_cast<const float4*>(crow + c0);
            v[0] += beta * c.x; v[1] += beta * c.y; v[2] += beta * c.z; v[3] += beta * c.w;
        }
        #pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = activate(bias ? v[q] + bias[c0 + q] : v[q], act);
        *reinterpret_cast<float4*>(crow + c0) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        #pragma unroll
        for (int q = 0; q < 4; ++q) {
            int c = c0 + q;
            if (c < n) {
                float x = v[q];
                if (beta != 0.f) x += beta * crow[c];
                if (bias) x += bias[c];
                crow[c] = activate(x, act);
            }
        }
    }
}

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
