// Low-bit GEMM (host side: CudaQGemm.java): C (m x n, row-major) = A (m x k) times B^T, B stored as n rows
// of k (one row per output channel), as QGemmDesc and the reference RefQGemm define it:
//   s8 x s8, u8 x s8  exact s32 sums (dp4a, or mma.sync m16n8k32 on tensor cores);
//   b1                acc = k - 2 popcount(a xor b) over the first k bits of each row (rows of rowBytes bytes);
//   s4                A f32, B packed s4 (two per byte, low nibble first), one f32 scale per group along k;
//   lmul              A, B f32, every product replaced by the L-Mul approximation, summed in f32.
// The integer kinds end in the same epilogue: out 0 stores the s32 sum; 1 stores f32 acc * srcScales[i] *
// scales[j] and 2 stores s8 clamp(rint(that), -128, 127), the products formed in double, in the reference's
// order, so the f32 and s8 results are the reference's bit for bit. The s32 sums are exact: the descriptor
// bounds k (k * 128 * 128 < 2^31 for s8 x s8, k * 255 * 128 < 2^31 for u8 x s8), so no partial sum wraps.
//
// Scheme of the CUDA-core kernels: a 64 x 64 block tile, 256 threads as 16 x 16, each thread owning the 4 x 4
// outputs (ty + 16 r, tx + 16 c); A and B stages of QG_KW 32-bit words along k (64 s8, 512 bits, or 16 f32)
// go through shared memory, rows padded by one word so the column reads hit distinct banks. Elements past
// m, n or k load as 0, which adds nothing (for b1, both operands' padding is 0, so a xor b is 0 there).
// Every output has one owning thread: no atomics, the same bits on every run. Two resident blocks per SM are
// asked of ptxas (at most 128 registers): left to itself it picks 48 to 64 for the b1 and L-Mul kernels on
// sm_90 and spills.

#define QG_TILE 64
#define QG_THREADS 256
#define QG_KW 16

#define OUT_S32 0
#define OUT_F32 1
#define OUT_S8 2

// The integer epilogue: the reference's (double) acc * srcScales[i] * scales[j], rounded once to f32 or to s8.
__device__ __forceinline__ void store_int(void* __restrict__ C, long long at, int acc, int out,
                                          const float* __restrict__ srcScales, const float* __restrict__ scales,
                                          int i, int j) {
    if (out == OUT_S32) {
        ((int*)C)[at] = acc;
        return;
    }
    const double v = __dmul_rn(__dmul_rn((double)acc, (double)srcScales[i]), (double)scales[j]);
    if (out == OUT_F32) ((float*)C)[at] = __double2float_rn(v);
    else ((signed char*)C)[at] = (signed char)(int)fmin(fmax(rint(v), -128.0), 127.0);
}

// Four bytes of a row of len bytes, from byte p on (p a multiple of 4), little-endian, bytes at or past len 0.
// aligned: len is a multiple of 4, so the row starts on a word and the word is whole or wholly past the end.
__device__ __forceinline__ unsigned load_word(const unsigned char* __restrict__ row, long long p, long long len, bool aligned) {
    if (aligned) return p < len ? __ldg((const unsigned*)(row + p)) : 0u;
    unsigned w = 0;
    #pragma unroll
    for (int q = 0; q < 4; ++q)
        if (p + q < len) w |= (unsigned)__ldg(row + p + q) << (8 * q);
    return w;
}

#define KIND_S8S8 0
#define KIND_U8S8 1
#define KIND_B1 2

// One 32-bit word's contribution: 4 s8 x s8 or u8 x s8 products (dp4a), or 32 sign products counted as
// mismatches (popc); the b1 total is k - 2 * (sum of mismatches).
template <int KIND>
__device__ __forceinline__ int word_mac(unsigned a, unsigned b, int acc) {
    if (KIND == KIND_S8S8) return __dp4a((int)a, (int)b, acc);
    if (KIND == KIND_U8S8) {
        int d;
        asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(acc));
        return d;
    }
    return acc + __popc(a ^ b);
}

// s8 x s8, u8 x s8 (rows of k bytes) and b1 (rows of rowBytes bytes, k bits used) on CUDA cores.
template <int KIND>
__device__ __forceinline__ void qgemm_words(const unsigned char* __restrict__ A, const unsigned char* __restrict__ B,
                                            const float* __restrict__ srcScales, const float* __restrict__ scales,
                                            void* __restrict__ C, int m, int n, int k, int rowBytes, int out) {
    __shared__ unsigned As[QG_TILE][QG_KW + 1];
    __shared__ unsigned Bs[QG_TILE][QG_KW + 1];
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int bm = blockIdx.y * QG_TILE, bn = blockIdx.x * QG_TILE;
    const long long len = KIND == KIND_B1 ? rowBytes : k;   // bytes per row
    const bool aligned = (len & 3) == 0;
    int acc[4][4];
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = 0;

    for (long long k0 = 0; k0 < len; k0 += 4 * QG_KW) {
        for (int e = threadIdx.x; e < QG_TILE * QG_KW; e += QG_THREADS) {
            const int r = e / QG_KW, w = e % QG_KW;
            const long long p = k0 + 4 * w;
            unsigned a = bm + r < m ? load_word(A + (long long)(bm + r) * len, p, len, aligned) : 0u;
            unsigned b = bn + r < n ? load_word(B + (long long)(bn + r) * len, p, len, aligned) : 0u;
            if (KIND == KIND_B1) {   // bits past k are padding the reference ignores: clear them in both
                const int valid = (int)max(min((long long)k - 8 * p, 32LL), 0LL);
                const unsigned mask = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;
                a &= mask;
                b &= mask;
            }
            As[r][w] = a;
            Bs[r][w] = b;
        }
        __syncthreads();
        #pragma unroll
        for (int w = 0; w < QG_KW; ++w) {
            unsigned a[4], b[4];
            #pragma unroll
            for (int r = 0; r < 4; ++r) a[r] = As[ty + 16 * r][w];
            #pragma unroll
            for (int c = 0; c < 4; ++c) b[c] = Bs[tx + 16 * c][w];
            #pragma unroll
            for (int r = 0; r < 4; ++r)
                #pragma unroll
                for (int c = 0; c < 4; ++c) acc[r][c] = word_mac<KIND>(a[r], b[c], acc[r][c]);
        }
        __syncthreads();
    }
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) {
            const int i = bm + ty + 16 * r, j = bn + tx + 16 * c;
            if (i < m && j < n)
                store_int(C, (long long)i * n + j, KIND == KIND_B1 ? k - 2 * acc[r][c] : acc[r][c], out, srcScales, scales, i, j);
        }
}

#define WORDS_ENTRY(name, KIND)                                                                                  \
    extern "C" __global__ void __launch_bounds__(QG_THREADS, 2)                                                   \
    name(const unsigned char* __restrict__ A, const unsigned char* __restrict__ B,                               \
         const float* __restrict__ srcScales, const float* __restrict__ scales, void* __restrict__ C, int m,     \
         int n, int k, int rowBytes, int out) {                                                                   \
        qgemm_words<KIND>(A, B, srcScales, scales, C, m, n, k, rowBytes, out);                                   \
    }

WORDS_ENTRY(qgemm_s8s8_dp4a, KIND_S8S8)
WORDS_ENTRY(qgemm_u8s8_dp4a, KIND_U8S8)
WORDS_ENTRY(qgemm_b1_popc, KIND_B1)

// ---- s8 x s8 and u8 x s8 on tensor cores (compute capability 8.0+) ----
//
// mma.sync.aligned.m16n8k32 with s8 (or u8) A, s8 B and s32 accumulators. Block tile 128 x 128, 256 threads =
// 8 warps as 2 (m) x 4 (n), each warp a 64 x 32 piece = 4 x 4 mma tiles of 16 x 8 (64 s32 accumulators per
// thread). Stages of MMA_KB = 64 bytes of k (two k32 steps). Fragment ownership (PTX ISA, m16n8k32 .s8/.u8),
// with g = lane / 4, t = lane % 4, each A/B register holding 4 consecutive k bytes:
//   A (16 x 32, row): a0 (g, 4t..)  a1 (g + 8, 4t..)  a2 (g, 16 + 4t..)  a3 (g + 8, 16 + 4t..)     (row, k)
//   B (32 x 8, col):  b0 (4t.., g)  b1 (16 + 4t.., g)                                                (k, col)
//   C (16 x 8):       c0 (g, 2t)  c1 (g, 2t + 1)  c2 (g + 8, 2t)  c3 (g + 8, 2t + 1)                  (row, col)
// B's "col" layout is k-contiguous per output column: exactly QGemmDesc's n rows of k. Shared rows are
// MMA_ROW = 20 words (64 bytes + 16 of padding): the 32 lanes' words (g * 20 + t) fall in 32 distinct banks.

#define MMA_TILE 128
#define MMA_KB 64
#define MMA_ROW 20
#define MMA_WARP_M 64
#define MMA_WARP_N 32

template <bool U8>
__device__ __forceinline__ void mma_i8(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    if (U8)
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 "
                     "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                     : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
                     "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                     : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <bool U8>
__device__ __forceinline__ void qgemm_mma(const unsigned char* __restrict__ A, const unsigned char* __restrict__ B,
                                          const float* __restrict__ srcScales, const float* __restrict__ scales,
                                          void* __restrict__ C, int m, int n, int k, int out) {
    __shared__ unsigned As[MMA_TILE][MMA_ROW];
    __shared__ unsigned Bs[MMA_TILE][MMA_ROW];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 2) * MMA_WARP_M, wn = (warp & 3) * MMA_WARP_N;
    const int bm = blockIdx.y * MMA_TILE, bn = blockIdx.x * MMA_TILE;
    const bool aligned = (k & 3) == 0;
    int acc[4][4][4];
    #pragma unroll
    for (int i = 0; i < 4; ++i)
        #pragma unroll
        for (int j = 0; j < 4; ++j)
            #pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0;

    for (long long k0 = 0; k0 < k; k0 += MMA_KB) {
        // 128 rows x 16 words per operand: 8 words per thread each, 16 consecutive threads on one row's 64 bytes.
        #pragma unroll
        for (int e = threadIdx.x; e < MMA_TILE * (MMA_KB / 4); e += QG_THREADS) {
            const int r = e >> 4, w = e & 15;
            const long long p = k0 + 4 * w;
            As[r][w] = bm + r < m ? load_word(A + (long long)(bm + r) * k, p, k, aligned) : 0u;
            Bs[r][w] = bn + r < n ? load_word(B + (long long)(bn + r) * k, p, k, aligned) : 0u;
        }
        __syncthreads();
        #pragma unroll
        for (int ks = 0; ks < MMA_KB / 4; ks += 8) {   // two k32 steps of 8 words
            unsigned af[4][4], bf[4][2];
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = wm + i * 16 + g;
                af[i][0] = As[row][ks + t];
                af[i][1] = As[row + 8][ks + t];
                af[i][2] = As[row][ks + 4 + t];
                af[i][3] = As[row + 8][ks + 4 + t];
            }
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int col = wn + j * 8 + g;
                bf[j][0] = Bs[col][ks + t];
                bf[j][1] = Bs[col][ks + 4 + t];
            }
            #pragma unroll
            for (int i = 0; i < 4; ++i)
                #pragma unroll
                for (int j = 0; j < 4; ++j) mma_i8<U8>(acc[i][j], af[i], bf[j]);
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < 4; ++i)
        #pragma unroll
        for (int j = 0; j < 4; ++j)
            #pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int row = bm + wm + i * 16 + g + (q >> 1) * 8, col = bn + wn + j * 8 + 2 * t + (q & 1);
                if (row < m && col < n) store_int(C, (long long)row * n + col, acc[i][j][q], out, srcScales, scales, row, col);
            }
}

#define MMA_ENTRY(name, U8)                                                                                      \
    extern "C" __global__ void __launch_bounds__(QG_THREADS, 2)                                                   \
    name(const unsigned char* __restrict__ A, const unsigned char* __restrict__ B,                               \
         const float* __restrict__ srcScales, const float* __restrict__ scales, void* __restrict__ C, int m,     \
         int n, int k, int rowBytes, int out) {                                                                   \
        qgemm_mma<U8>(A, B, srcScales, scales, C, m, n, k, out);                                                 \
    }

MMA_ENTRY(qgemm_s8s8_mma, false)
MMA_ENTRY(qgemm_u8s8_mma, true)

// ---- s4 group-wise and L-Mul: f32 A, the same 64 x 64 tiles of 4 x 4 per thread, stages of QG_KW elements ----

// s4 element p of a row of k (k even: rows start on whole bytes), sign-extended: low nibble first.
__device__ __forceinline__ float s4_at(const unsigned char* __restrict__ row, int p) {
    const int byte = __ldg(row + (p >> 1));
    return (float)((int)((unsigned)byte << (28 - 4 * (p & 1))) >> 28);
}

// C[i][j] = sum over groups of scales[j][grp] * (sum over the group of A[i][p] * B[j][p]), all in f32.
extern "C" __global__ void __launch_bounds__(QG_THREADS, 2)
qgemm_s4(const float* __restrict__ A, const unsigned char* __restrict__ B, const float* __restrict__ scales,
         float* __restrict__ C, int m, int n, int k, int groupSize) {
    __shared__ float As[QG_TILE][QG_KW + 1];
    __shared__ float Bs[QG_TILE][QG_KW + 1];
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int bm = blockIdx.y * QG_TILE, bn = blockIdx.x * QG_TILE;
    const int groups = k / groupSize;
    float part[4][4], acc[4][4];
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) part[r][c] = acc[r][c] = 0.f;
    int inGroup = 0, group = 0;
    for (int k0 = 0; k0 < k; k0 += QG_KW) {
        for (int e = threadIdx.x; e < QG_TILE * QG_KW; e += QG_THREADS) {
            const int r = e / QG_KW, w = e % QG_KW, p = k0 + w;
            As[r][w] = bm + r < m && p < k ? __ldg(A + (long long)(bm + r) * k + p) : 0.f;
            Bs[r][w] = bn + r < n && p < k ? s4_at(B + (long long)(bn + r) * (k / 2), p) : 0.f;
        }
        __syncthreads();
        const int steps = min(QG_KW, k - k0);   // the same for every thread: the group flushes stay uniform
        for (int w = 0; w < steps; ++w) {
            float a[4], b[4];
            #pragma unroll
            for (int r = 0; r < 4; ++r) a[r] = As[ty + 16 * r][w];
            #pragma unroll
            for (int c = 0; c < 4; ++c) b[c] = Bs[tx + 16 * c][w];
            #pragma unroll
            for (int r = 0; r < 4; ++r)
                #pragma unroll
                for (int c = 0; c < 4; ++c) part[r][c] = fmaf(a[r], b[c], part[r][c]);
            if (++inGroup == groupSize) {
                #pragma unroll
                for (int c = 0; c < 4; ++c) {
                    const int j = bn + tx + 16 * c;
                    const float s = j < n ? __ldg(scales + (long long)j * groups + group) : 0.f;
                    #pragma unroll
                    for (int r = 0; r < 4; ++r) {
                        acc[r][c] = fmaf(s, part[r][c], acc[r][c]);
                        part[r][c] = 0.f;
                    }
                }
                inGroup = 0;
                ++group;
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) {
            const int i = bm + ty + 16 * r, j = bn + tx + 16 * c;
            if (i < m && j < n) C[(long long)i * n + j] = acc[r][c];
        }
}

// The reference's L-Mul (RefQGemm.lmul) for the rare inputs the bit path does not take: non-finite (the
// ordinary product), zero or subnormal (a signed zero), or a result outside the normal range (formed exactly
// in double, rounded once to f32).
__device__ __forceinline__ float lmul_slow(float x, float y, int mb) {
    if (!isfinite(x) || !isfinite(y)) return __fmul_rn(x, y);
    const bool negative = signbit(x) != signbit(y);
    if (fabsf(x) < 1.17549435e-38f || fabsf(y) < 1.17549435e-38f) return negative ? -0.f : 0.f;
    const unsigned bx = __float_as_uint(x), by = __float_as_uint(y);
    const int shift = 23 - mb;
    const double xm = (double)((bx & 0x7FFFFFu) >> shift) / (double)(1 << mb);
    const double ym = (double)((by & 0x7FFFFFu) >> shift) / (double)(1 << mb);
    const int ex = (int)((bx >> 23) & 0xFF) - 127, ey = (int)((by >> 23) & 0xFF) - 127;
    const int l = mb <= 3 ? mb : mb == 4 ? 3 : 4;
    const double mag = scalbn(1.0 + xm + ym + scalbn(1.0, -l), ex + ey);
    return __double2float_rn(negative ? -mag : mag);
}

// L-Mul on the bit patterns: the truncated mantissa fields and the offset 2^-l (in units of 2^-23) add; a
// fraction sum of 1 or more carries into the exponent and the field halves (exact: the fields are multiples
// of 2^(23 - M)); the biased exponents add less 127. The value is exactly representable, so no rounding.
__device__ __forceinline__ float lmul(float x, float y, int mb, unsigned mmask, unsigned offset) {
    const unsigned bx = __float_as_uint(x), by = __float_as_uint(y);
    const unsigned ex = (bx >> 23) & 0xFF, ey = (by >> 23) & 0xFF;
    const unsigned mant = (bx & mmask) + (by & mmask) + offset;
    const unsigned carry = min(mant >> 23, 1u);
    const unsigned field = (mant - (carry << 23)) >> carry;
    const int e = (int)(ex + ey + carry) - 127;
    if (ex - 1u >= 254u || ey - 1u >= 254u || (unsigned)(e - 1) >= 254u) return lmul_slow(x, y, mb);
    return __uint_as_float(((bx ^ by) & 0x80000000u) | ((unsigned)e << 23) | field);
}

// C[i][j] = sum over p of lmul(A[i][p], B[j][p]), summed in f32 in k order.
extern "C" __global__ void __launch_bounds__(QG_THREADS, 2)
qgemm_lmul(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int m, int n, int k,
           int mantissaBits) {
    __shared__ float As[QG_TILE][QG_KW + 1];
    __shared__ float Bs[QG_TILE][QG_KW + 1];
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const int bm = blockIdx.y * QG_TILE, bn = blockIdx.x * QG_TILE;
    const unsigned mmask = 0x7FFFFFu & (0xFFFFFFFFu << (23 - mantissaBits));
    const int l = mantissaBits <= 3 ? mantissaBits : mantissaBits == 4 ? 3 : 4;
    const unsigned offset = 1u << (23 - l);
    float acc[4][4];
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = 0.f;
    for (int k0 = 0; k0 < k; k0 += QG_KW) {
        for (int e = threadIdx.x; e < QG_TILE * QG_KW; e += QG_THREADS) {
            const int r = e / QG_KW, w = e % QG_KW, p = k0 + w;
            As[r][w] = bm + r < m && p < k ? __ldg(A + (long long)(bm + r) * k + p) : 0.f;
            Bs[r][w] = bn + r < n && p < k ? __ldg(B + (long long)(bn + r) * k + p) : 0.f;
        }
        __syncthreads();
        const int steps = min(QG_KW, k - k0);   // padding zeros would add +-0 terms; skip them instead
        for (int w = 0; w < steps; ++w) {
            float a[4], b[4];
            #pragma unroll
            for (int r = 0; r < 4; ++r) a[r] = As[ty + 16 * r][w];
            #pragma unroll
            for (int c = 0; c < 4; ++c) b[c] = Bs[tx + 16 * c][w];
            #pragma unroll
            for (int r = 0; r < 4; ++r)
                #pragma unroll
                for (int c = 0; c < 4; ++c) acc[r][c] = __fadd_rn(acc[r][c], lmul(a[r], b[c], mantissaBits, mmask, offset));
        }
        __syncthreads();
    }
    #pragma unroll
    for (int r = 0; r < 4; ++r)
        #pragma unroll
        for (int c = 0; c < 4; ++c) {
            const int i = bm + ty + 16 * r, j = bn + tx + 16 * c;
            if (i < m && j < n) C[(long long)i * n + j] = acc[r][c];
        }
}
