// Quantise, dequantise and fake-quantise (host side: CudaQuantize.java), bit for bit the reference
// (RefQuantize / QuantizeDesc): every step is one correctly rounded f32 operation, written with the _rn
// intrinsics so nvcc cannot contract a multiply and an add into an FMA:
//   v = x / s;  r = rint(v), or floor(v + u) when stochastic;  q = clamp(r + z, qmin, qmax);  (q - z) * s
//   b1: q = +1 if x >= 0 else -1, or +1 if u < (x + 1) / 2 else -1 when stochastic;  q * s
// u is the reference's counter hash of (seed, flat index): the same bits whatever thread computes it.
// qtype codes: 0 s8, 1 u8, 2 s4, 3 b1; mode codes: QuantizeDesc.Mode ordinals (0 quantise, 1 dequantise,
// 2 fake). The scale of flat element i is scales[(i / div) % mod] (tensor: div 1, mod 1; channel: div =
// elements after the axis, mod = channels; group: div = groupSize, mod = groups).
//
// quantize_scales runs first when the op computes its scales: one block per scale (grid-stride over
// scales), each thread a strided slice of the scale's elements, then a fixed-shape block reduction (no
// atomics): min and max are exact in any order; the b1 mean |x| is summed in double (the descriptor allows
// 1e-6 there). Element e of scale st lives at (e / inner) * outerStride + st * setStride + e % inner.

#include "block_reduce.cuh"

#ifndef QZ_THREADS   // the host emulation (QuantizeEmulationTest) runs quantize_scales with fewer
#define QZ_THREADS 256
#endif

#define Q_S8 0
#define Q_U8 1
#define Q_S4 2
#define Q_B1 3

#define MODE_QUANTIZE 0
#define MODE_DEQUANTIZE 1
#define MODE_FAKE 2

// ---- the reference's counter-based uniform numbers (RefQuantize.uniform) ----

__device__ __forceinline__ unsigned mix32(unsigned h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

__device__ __forceinline__ unsigned seed_key(unsigned long long seed, unsigned long long indexHigh) {
    unsigned long long z = seed + indexHigh * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (unsigned)(z ^ (z >> 31));
}

// A uniform f32 in [0, 1) with 24 bits: (hash >>> 8) * 2^-24, exact.
__device__ __forceinline__ float uniform(long long seed, long long index) {
    const unsigned h = mix32((unsigned)index * 0x9E3779B9u
                             + seed_key((unsigned long long)seed, (unsigned long long)index >> 32));
    return (float)(h >> 8) * 0x1p-24f;
}

// ---- the scalar contract ----

__device__ __forceinline__ int quantize_value(float x, float s, int z, int qmin, int qmax, bool stochastic, float u) {
    const float v = __fdiv_rn(x, s);
    const float r = stochastic ? floorf(__fadd_rn(v, u)) : rintf(v);
    const float t = __fadd_rn(r, (float)z);
    return (int)fminf(fmaxf(t, (float)qmin), (float)qmax);
}

__device__ __forceinline__ int binarize(float x, bool stochastic, float u) {
    return stochastic ? (u < __fmul_rn(__fadd_rn(x, 1.f), 0.5f) ? 1 : -1) : (x >= 0.f ? 1 : -1);
}

__device__ __forceinline__ float dequantize_value(int q, float s, int z) { return __fmul_rn((float)(q - z), s); }

#define QZ_PARAMS                                                                                           \
    const void* __restrict__ src, void* __restrict__ dst, const float* __restrict__ scales,                 \
        const int* __restrict__ zeros, long long count, int mode, int qtype, long long div, int mod, int qmin, \
        int qmax, int stochastic, long long seed, int rowLength, int rowBytes

// The integer stored for element i of a quantised operand (b1 rows start on whole bytes).
__device__ __forceinline__ int load_q(const unsigned char* __restrict__ q, long long i, int qtype, int rowLength, int rowBytes) {
    switch (qtype) {
        case Q_S8: return (signed char)q[i];
        case Q_U8: return q[i];
        case Q_S4: return (int)((unsigned)q[i >> 1] << (28 - 4 * (int)(i & 1))) >> 28;
        default: {
            const long long bit = i / rowLength * 8LL * rowBytes + i % rowLength;
            return (q[bit >> 3] >> (bit & 7)) & 1 ? 1 : -1;
        }
    }
}

// f32 x of element i to its integer, by the rounding and grid of the op.
__device__ __forceinline__ int quantized(const float* __restrict__ x, long long i, float s, int z, int qtype, int qmin,
                                         int qmax, int stochastic, long long seed) {
    const float u = stochastic ? uniform(seed, i) : 0.f;
    return qtype == Q_B1 ? binarize(x[i], stochastic, u) : quantize_value(x[i], s, z, qmin, qmax, stochastic, u);
}

// One thread per element: dequantise (every qtype), fake-quantise (every qtype), quantise to s8 / u8.
extern "C" __global__ void quantize_elems(QZ_PARAMS) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        const int g = (int)((i / div) % mod);
        const float s = scales[g];
        const int z = zeros ? zeros[g] : 0;
        if (mode == MODE_DEQUANTIZE) {
            ((float*)dst)[i] = dequantize_value(load_q((const unsigned char*)src, i, qtype, rowLength, rowBytes), s, z);
            continue;
        }
        const int q = quantized((const float*)src, i, s, z, qtype, qmin, qmax, stochastic, seed);
        if (mode == MODE_FAKE) ((float*)dst)[i] = dequantize_value(q, s, z);
        else ((unsigned char*)dst)[i] = (unsigned char)q;
    }
}

// Quantise to s4: one thread per byte (elements 2b and 2b + 1, the first in the low nibble), so no two threads
// write one byte. An odd count leaves the high nibble of the last byte as it was, like the reference.
extern "C" __global__ void quantize_s4_pairs(QZ_PARAMS) {
    const long long bytes = (count + 1) / 2;
    unsigned char* out = (unsigned char*)dst;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < bytes; b += (long long)gridDim.x * blockDim.x) {
        unsigned v = 0;
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const long long i = 2 * b + h;
            if (i >= count) {
                v |= out[b] & 0xF0u;
                break;
            }
            const int g = (int)((i / div) % mod);
            const int q = quantized((const float*)src, i, scales[g], zeros ? zeros[g] : 0, qtype, qmin, qmax, stochastic, seed);
            v |= ((unsigned)q & 0xFu) << (4 * h);
        }
        out[b] = (unsigned char)v;
    }
}

// Quantise to b1: one thread per byte of the packed rows (rowBytes per row of rowLength elements, element j
// in bit j % 8 of byte j / 8); padding bits are 0.
extern "C" __global__ void quantize_b1_bytes(QZ_PARAMS) {
    const long long rows = count / rowLength, bytes = rows * rowBytes;
    unsigned char* out = (unsigned char*)dst;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < bytes; b += (long long)gridDim.x * blockDim.x) {
        const long long row = b / rowBytes;
        const int first = (int)(b % rowBytes) * 8;
        unsigned v = 0;
        for (int t = 0; t < 8 && first + t < rowLength; ++t) {
            const long long i = row * rowLength + first + t;
            const int g = (int)((i / div) % mod);
            if (quantized((const float*)src, i, scales[g], 0, qtype, qmin, qmax, stochastic, seed) > 0) v |= 1u << t;
        }
        out[b] = (unsigned char)v;
    }
}

// The scales (and zero points) the op computes, one block per scale. qtype b1: the mean |x|; symmetric:
// max|x| / qmax; asymmetric: (hi - lo) / (qmax - qmin) with lo = min(min x, 0), hi = max(max x, 0), and zero
// point clamp(qmin - rint(lo / s), qmin, qmax). A scale that comes out 0 is 1.
extern "C" __global__ void __launch_bounds__(QZ_THREADS)
quantize_scales(const float* __restrict__ x, float* __restrict__ scales, int* __restrict__ zeros, int sets,
                long long per, long long inner, long long outerStride, long long setStride, int qtype,
                int symmetric, int qmin, int qmax) {
    for (int st = blockIdx.x; st < sets; st += gridDim.x) {
        float lo = 0.f, hi = 0.f;   // the range always holds zero
        double sumAbs = 0.0;
        for (long long e = threadIdx.x; e < per; e += QZ_THREADS) {
            const float v = x[(e / inner) * outerStride + st * setStride + e % inner];
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
            if (qtype == Q_B1) sumAbs += fabs((double)v);
        }
        lo = block_reduce(lo, [](float a, float b) { return fminf(a, b); });
        hi = block_reduce(hi, [](float a, float b) { return fmaxf(a, b); });
        if (qtype == Q_B1) sumAbs = block_sum(sumAbs);
        if (threadIdx.x == 0) {
            float s;
            if (qtype == Q_B1) {
                s = __double2float_rn(__ddiv_rn(sumAbs, (double)per));
            } else if (symmetric) {
                s = __fdiv_rn(fmaxf(-lo, hi), (float)qmax);
            } else {
                s = __fdiv_rn(__fsub_rn(hi, lo), (float)(qmax - qmin));
            }
            if (s == 0.f) s = 1.f;
            scales[st] = s;
            if (qtype != Q_B1 && !symmetric) {
                const float z = __fsub_rn((float)qmin, rintf(__fdiv_rn(lo, s)));
                zeros[st] = (int)fminf(fmaxf(z, (float)qmin), (float)qmax);
            }
        }
    }
}
