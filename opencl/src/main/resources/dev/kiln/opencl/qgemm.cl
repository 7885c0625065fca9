// 8-bit GEMM: C (m x n) = A (m x k, s8, or u8 with -DQ_U8) times B^T (B: n rows of k, s8), exact s32
// accumulation; out 0 stores s32, 1 f32 = acc * srcScales[i] * scales[j], 2 s8 = clamp(rint(that), -128,
// 127) (QGemmDesc). The scaled products are formed in double, as the reference does, which needs
// cl_khr_fp64 (-DQ_F64); without it the host offers only s32 output. One work-item per output element,
// j fastest; it owns its element.

#ifdef Q_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifdef Q_U8
#define Q_A uchar
#else
#define Q_A char
#endif

__kernel void qgemm_i8(__global const Q_A* a, __global const char* b, __global const float* srcScales,
                       __global const float* scales, __global void* c, int m, int n, int k, int out) {
    const int j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    __global const Q_A* ar = a + (long) i * k;
    __global const char* br = b + (long) j * k;
    int acc = 0;
    for (int p = 0; p < k; p++) acc += (int) ar[p] * (int) br[p];
    const long at = (long) i * n + j;
    if (out == 0) {
        ((__global int*) c)[at] = acc;
        return;
    }
#ifdef Q_F64
    const double v = (double) acc * (double) srcScales[i] * (double) scales[j];
    if (out == 1) ((__global float*) c)[at] = (float) v;
    else ((__global char*) c)[at] = (char) clamp(rint(v), -128.0, 127.0);
#endif
}

// ---- s4 group-wise weights: C (m x n, f32) = sum over groups g of SCALES[j][g] * sum over p in g of A[i][p] *
// B[j][p], A f32 (m x k), B packed s4 (element j*k + p in byte (j*k + p) / 2, the even one in the low nibble),
// SCALES n x (k / group). k is even, so each row of B starts on a whole byte; a group may still start mid-byte
// (odd group sizes), so nibbles are taken by element. f32 accumulation, per group then scaled (as the reference
// groups it; the reference sums in double, within the f32 tolerance).

inline int s4_at(__global const uchar* row, int p) {
    const int v = row[p >> 1];
    const int nib = (p & 1) ? v >> 4 : v & 0xF;
    return nib >= 8 ? nib - 16 : nib;
}

__kernel void qgemm_s4(__global const float* a, __global const uchar* b, __global const float* scales,
                       __global float* c, int m, int n, int k, int group) {
    const int j = get_global_id(0), i = get_global_id(1);
    if (j >= n || i >= m) return;
    __global const float* ar = a + (long) i * k;
    __global const uchar* br = b + (((long) j * k) >> 1);
    __global const float* sr = scales + (long) j * (k / group);
    float acc = 0;
    for (int g0 = 0, g = 0; g0 < k; g0 += group, g++) {
        float part = 0;
        int p = g0;
        const int end = g0 + group;
        if ((p & 1) == 0)   // whole bytes: both nibbles of each byte belong to this group
            for (; p + 1 < end; p += 2) {
                const int v = br[p >> 1];
                const int lo = (v & 0xF) >= 8 ? (v & 0xF) - 16 : (v & 0xF), hi = (v >> 4) >= 8 ? (v >> 4) - 16 : (v >> 4);
                part += ar[p] * (float) lo + ar[p + 1] * (float) hi;
            }
        for (; p < end; p++) part += ar[p] * (float) s4_at(br, p);
        acc += sr[g] * part;
    }
    c[(long) i * n + j] = acc;
}

// ---- binary (qgemm_b1_v16 below): A and B bit-packed rows of ceil(k/8) bytes, bit 1 = +1, bit 0 = -1 (least
// significant first); acc = k - 2 popcount(a xor b) over the first k bits (padding bits masked off). out 0: s32,
// 1: f32 = acc * srcScales[i] * scales[j] in double (-DQ_F64 only, as the 8-bit kernel).


// ---- L-Mul: C (m x n, f32) = sum over p of lmul(A[i][p], B[j][p]) summed in f32 (qgemm_lmul_v16 below), lmul
// as RefQGemm.lmul defines it, computed on the bit patterns: the mantissa fields truncated to mb bits plus the offset
// 2^-l(mb) (in units of 2^-23) are added; a sum of fractions at or above 1 carries into the exponent and the
// field halves (exact: the fields are multiples of 2^(23-mb)); the biased exponents add less 127. A result
// past the largest exponent is infinity; one below the normal range is rounded to a subnormal (nearest even),
// as the reference's rounding of the exact value to f32 does.

inline float lmul(float x, float y, int mb) {
    const uint bx = as_uint(x), by = as_uint(y);
    const uint ex = (bx >> 23) & 0xFF, ey = (by >> 23) & 0xFF;
    if (ex == 0xFF || ey == 0xFF) return x * y;                 // infinity or NaN: the ordinary product
    const uint sign = (bx ^ by) & 0x80000000u;
    if (ex == 0 || ey == 0) return as_float(sign);              // zero or subnormal input: a signed zero
    const uint mmask = 0x7FFFFFu & ~((1u << (23 - mb)) - 1);
    const int l = mb <= 3 ? mb : mb == 4 ? 3 : 4;
    const uint mant = (bx & mmask) + (by & mmask) + (1u << (23 - l));
    const uint carry = mant >= 0x800000u ? 1 : 0;
    const uint field = (mant - (carry << 23)) >> carry;
    const int e = (int) ex + (int) ey + (int) carry - 127;
    if (e >= 255) return as_float(sign | 0x7F800000u);
    if (e >= 1) return as_float(sign | ((uint) e << 23) | field);
    // subnormal result: the 24-bit significand in units of 2^-149 is sig * 2^(e-1); shift right, ties to even
    const uint sig = 0x800000u | field;
    const int s = 1 - e;
    if (s > 25) return as_float(sign);
    uint r = sig >> s;
    const uint rem = sig & ((1u << s) - 1), halfway = 1u << (s - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return as_float(sign | r);
}

// ---- vector forms for CPU-like devices: one work-item per row i and QN = 4 consecutive columns j, stepping
// through k 16 elements at a time with explicit vectors (a 512-bit register on AVX-512, two on AVX2), so the A
// chunk is loaded once for the four B rows and nothing relies on the driver vectorising across work-items.
// Columns past n read row n - 1 again and are not stored.

#define QN 4

// s4 with groups that are multiples of 16: each 16-element chunk of B is 8 bytes, low nibbles the even
// elements and high nibbles the odd ones, so A's chunk splits into .even and .odd halves to match. Each group's
// f32 part is scaled into a vector accumulator, summed across lanes at the end.
__kernel void qgemm_s4_v16(__global const float* a, __global const uchar* b, __global const float* scales,
                           __global float* c, int m, int n, int k, int group) {
    const int j0 = get_global_id(0) * QN, i = get_global_id(1);
    if (j0 >= n || i >= m) return;
    const int groups = k / group;
    __global const float* ar = a + (long) i * k;
    __global const uchar* br[QN];
    __global const float* sr[QN];
    for (int q = 0; q < QN; q++) {
        const int j = min(j0 + q, n - 1);
        br[q] = b + (((long) j * k) >> 1);
        sr[q] = scales + (long) j * groups;
    }
    float8 acc[QN];
    for (int q = 0; q < QN; q++) acc[q] = 0;
    for (int g = 0; g < groups; g++) {
        float8 part[QN];
        for (int q = 0; q < QN; q++) part[q] = 0;
        for (int p = g * group; p < (g + 1) * group; p += 16) {
            const float16 x = vload16(0, ar + p);
            const float8 xe = x.even, xo = x.odd;
            for (int q = 0; q < QN; q++) {
                const int8 v = convert_int8(vload8(0, br[q] + (p >> 1)));
                const int8 lo = ((v & 0xF) ^ 8) - 8, hi = ((v >> 4) ^ 8) - 8;
                part[q] += xe * convert_float8(lo) + xo * convert_float8(hi);
            }
        }
        for (int q = 0; q < QN; q++) acc[q] += sr[q][g] * part[q];
    }
    for (int q = 0; q < QN && j0 + q < n; q++) {
        const float8 s = acc[q];
        const float4 h = s.lo + s.hi;
        c[(long) i * n + j0 + q] = (h.x + h.y) + (h.z + h.w);
    }
}

// L-Mul, 16 products at a time in integer lanes (the scalar lmul above, without its branches); a chunk with
// any zero, subnormal, infinite or NaN input, or a result outside the normal range, goes through the scalar
// function lane by lane, so every term is still exactly the reference's.
inline float lmul_chunk(float16 x, float16 y, int mb, uint mmask, uint off, float16* acc) {
    const uint16 bx = as_uint16(x), by = as_uint16(y);
    const uint16 ex = (bx >> 23) & 0xFFu, ey = (by >> 23) & 0xFFu;
    const uint16 mant = (bx & mmask) + (by & mmask) + off;
    const uint16 carry = min(mant >> 23, (uint16) 1);
    const uint16 field = (mant - (carry << 23)) >> carry;
    const uint16 e = ex + ey + carry - 127u;                     // wraps below zero: caught as special
    const int16 special = (ex - 1u >= 254u) | (ey - 1u >= 254u) | (e - 1u >= 254u);
    if (!any(special)) {
        *acc += as_float16(((bx ^ by) & 0x80000000u) | (e << 23) | field);
        return 0;
    }
    float xs[16], ys[16];
    vstore16(x, 0, xs);
    vstore16(y, 0, ys);
    float s = 0;
    for (int t = 0; t < 16; t++) s += lmul(xs[t], ys[t], mb);
    return s;
}

__kernel void qgemm_lmul_v16(__global const float* a, __global const float* b, __global float* c, int m, int n, int k, int mb) {
    const int j0 = get_global_id(0) * QN, i = get_global_id(1);
    if (j0 >= n || i >= m) return;
    const uint mmask = 0x7FFFFFu & ~((1u << (23 - mb)) - 1);
    const int l = mb <= 3 ? mb : mb == 4 ? 3 : 4;
    const uint off = 1u << (23 - l);
    __global const float* ar = a + (long) i * k;
    __global const float* br[QN];
    for (int q = 0; q < QN; q++) br[q] = b + (long) min(j0 + q, n - 1) * k;
    float16 acc[QN];
    float tail[QN];
    for (int q = 0; q < QN; q++) { acc[q] = 0; tail[q] = 0; }
    int p = 0;
    for (; p + 16 <= k; p += 16) {
        const float16 x = vload16(0, ar + p);
        for (int q = 0; q < QN; q++) tail[q] += lmul_chunk(x, vload16(0, br[q] + p), mb, mmask, off, &acc[q]);
    }
    for (; p < k; p++)
        for (int q = 0; q < QN; q++) tail[q] += lmul(ar[p], br[q][p], mb);
    for (int q = 0; q < QN && j0 + q < n; q++) {
        const float16 s = acc[q];
        const float8 h8 = s.lo + s.hi;
        const float4 h4 = h8.lo + h8.hi;
        c[(long) i * n + j0 + q] = (h4.x + h4.y) + (h4.z + h4.w) + tail[q];
    }
}

// binary, four columns per work-item: 16-byte chunks of the packed rows as two 64-bit words, xor and popcount
// of each word; whole bytes past the last chunk one at a time, the last partial byte masked. Exact, as qgemm_b1.
__kernel void qgemm_b1_v16(__global const uchar* a, __global const uchar* b, __global const float* srcScales,
                           __global const float* scales, __global void* c, int m, int n, int k, int out) {
    const int j0 = get_global_id(0) * QN, i = get_global_id(1);
    if (j0 >= n || i >= m) return;
    const int rowBytes = (k + 7) >> 3, full = k >> 3;
    __global const uchar* ar = a + (long) i * rowBytes;
    __global const uchar* br[QN];
    for (int q = 0; q < QN; q++) br[q] = b + (long) min(j0 + q, n - 1) * rowBytes;
    int diff[QN];
    for (int q = 0; q < QN; q++) diff[q] = 0;
    int p = 0;
    for (; p + 16 <= full; p += 16) {
        const ulong2 x = as_ulong2(vload16(0, ar + p));
        for (int q = 0; q < QN; q++) {
            // scalar popcounts: one instruction each on x86-64, where a vector popcount is a table-lookup sequence
            const ulong2 d = x ^ as_ulong2(vload16(0, br[q] + p));
            diff[q] += (int) (popcount(d.x) + popcount(d.y));
        }
    }
    for (; p < full; p++)
        for (int q = 0; q < QN; q++) diff[q] += (int) popcount((uchar) (ar[p] ^ br[q][p]));
    const uchar tailMask = (uchar) ((1 << (k & 7)) - 1);
    for (int q = 0; q < QN && j0 + q < n; q++) {
        if (k & 7) diff[q] += (int) popcount((uchar) ((ar[full] ^ br[q][full]) & tailMask));
        const int acc = k - 2 * diff[q];
        const long at = (long) i * n + j0 + q;
        if (out == 0) {
            ((__global int*) c)[at] = acc;
        } else {
#ifdef Q_F64
            ((__global float*) c)[at] = (float) ((double) acc * (double) srcScales[i] * (double) scales[j0 + q]);
#endif
        }
    }
}
