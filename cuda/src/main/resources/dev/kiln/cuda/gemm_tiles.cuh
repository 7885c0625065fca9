// The tile machinery shared by gemm.cu (FFMA) and gemm_tf32.cu (tensor cores): block tile sizes,
// global -> register -> shared staging of A and B tiles (k-major in shared memory, float4 where the host
// says the operand is aligned, zero fill at the edges), the activation codes and the four-wide C store.
// Define KILN_GEMM_BK (8 or 16) and KILN_GEMM_MIN_BLOCKS before including to change the defaults.
#pragma once

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

