// Affine quantisation (QuantizeDesc), bit for bit as RefQuantize: the descriptor fixes every f32 operation,
// so contraction into fused multiply-adds is off, and the divisions x / s are done in double and rounded
// once to f32, which gives the correctly rounded f32 quotient (double has more than 2 * 24 + 2 bits), where
// OpenCL's own f32 division may be 2.5 ulp off. Hence cl_khr_fp64 is required (the host declines without).
//
// Build options: -DQ_TYPE=0 s8, 1 u8, 2 s4, 3 b1 (the integer type of the quantised side).
// Scale index of flat element i: (i / inner) % channels. Per tensor: inner = count, channels = 1; per
// channel: the axis's inner extent and length; per group: inner = groupSize, channels = count / groupSize.
// b1 rows run along the last dimension (rowLength elements), each stored as ceil(rowLength / 8) whole bytes.

#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL FP_CONTRACT OFF

#define Q_WG 64

// ---- the counter hash of RefQuantize.uniform: murmur3's fmix32 of lo(i) * 0x9E3779B9 + key(seed, hi(i))

inline uint mix32(uint h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

inline uint seed_key(ulong seed, ulong high) {
    ulong z = seed + high * 0x9E3779B97F4A7C15ul;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
    return (uint) (z ^ (z >> 31));
}

// key = seed_key(seed, i >> 32), shared by 2^32 consecutive indices (so by every run of Q_RUN elements below)
inline float uniform_keyed(uint key, long i) { return (float) (mix32((uint) i * 0x9E3779B9u + key) >> 8) * 0x1p-24f; }

inline float uniform01(ulong seed, long i) { return uniform_keyed(seed_key(seed, (ulong) i >> 32), i); }

inline float div_f32(float x, float s) { return (float) ((double) x / (double) s); }

// ---- the scalar contract of RefQuantize

// rint and floor by the 2^23 trick: below 2^23 in magnitude, |v| + 2^23 lands where the f32 spacing is 1, so
// the addition itself rounds to nearest even (exact, with contraction off); from 2^23 up every f32 is an
// integer already. The same results as rint() and floor(), which some drivers (POCL) call as library
// routines several times slower than the rest of the element's arithmetic.
inline float rne_f32(float v) {
    const float a = fabs(v), r = (a + 0x1p23f) - 0x1p23f;
    return a < 0x1p23f ? copysign(r, v) : v;
}

inline float floor_f32(float v) {
    const float r = rne_f32(v);
    return r > v ? r - 1.0f : r;
}

inline int quantize_one(float x, float s, int z, int qmin, int qmax, int stochastic, float u) {
    const float v = div_f32(x, s);
    const float r = stochastic ? floor_f32(v + u) : rne_f32(v);
    const float t = r + (float) z;
    return (int) fmin(fmax(t, (float) qmin), (float) qmax);
}

inline int binarize(float x, int stochastic, float u) {
    return stochastic ? (u < (x + 1.0f) * 0.5f ? 1 : -1) : (x >= 0.0f ? 1 : -1);
}

inline int q_of(float x, long i, float s, int z, int qmin, int qmax, int stochastic, uint key) {
    const float u = stochastic ? uniform_keyed(key, i) : 0.0f;
#if Q_TYPE == 3
    return binarize(x, stochastic, u);
#else
    return quantize_one(x, s, z, qmin, qmax, stochastic, u);
#endif
}

inline float dequantize_one(int q, float s, int z) { return (float) (q - z) * s; }

// ---- scales computed by the op. quant_stats: one work-group of Q_WG per scale, each work-item striding over
// the scale's elements, then a fixed local-memory tree; quant_stats_serial: one work-item per scale walking its
// elements in order (for many small scales, where a work-group each would mostly idle at barriers). min and max
// are exact in any order; the b1 sum of |x| is in double (the tree's order differs from the reference's, which
// the harness allows for). The scale and, when asymmetric, the zero point are then written as RefQuantize does.

inline long scale_element(long t, int g, long inner, int channels) { return ((t / inner) * channels + g) * inner + t % inner; }

inline void write_scale(__global float* scales, __global int* zeros, int g, float lo, float hi, double sumAbs, long perScale,
                        int symmetric, int qmin, int qmax) {
    float scale;
#if Q_TYPE == 3
    scale = (float) (sumAbs / (double) perScale);
#else
    if (symmetric) {
        scale = div_f32(fmax(-lo, hi), (float) qmax);
    } else {
        scale = div_f32(hi - lo, (float) (qmax - qmin));
        if (scale == 0.0f) scale = 1.0f;
        const float z = (float) qmin - rint(div_f32(lo, scale));
        zeros[g] = (int) fmin(fmax(z, (float) qmin), (float) qmax);
    }
#endif
    scales[g] = scale == 0.0f ? 1.0f : scale;
}

__kernel void quant_stats(__global const float* src, __global float* scales, __global int* zeros,
                          long perScale, long inner, int channels, int symmetric, int qmin, int qmax) {
    __local float lo[Q_WG], hi[Q_WG];
    __local double sum[Q_WG];
    const int g = get_group_id(0), lid = get_local_id(0);
    float l = 0.0f, h = 0.0f;
    double s = 0.0;
    const int contiguous = perScale == inner;                 // per tensor, per group, or a channel of the first axis
    for (long t = lid; t < perScale; t += Q_WG) {
        const float x = src[contiguous ? g * inner + t : scale_element(t, g, inner, channels)];
        l = fmin(l, x);
        h = fmax(h, x);
        s += (double) fabs(x);
    }
    lo[lid] = l;
    hi[lid] = h;
    sum[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = Q_WG / 2; w > 0; w >>= 1) {
        if (lid < w) {
            lo[lid] = fmin(lo[lid], lo[lid + w]);
            hi[lid] = fmax(hi[lid], hi[lid + w]);
            sum[lid] += sum[lid + w];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) write_scale(scales, zeros, g, lo[0], hi[0], sum[0], perScale, symmetric, qmin, qmax);
}

__kernel void quant_stats_serial(__global const float* src, __global float* scales, __global int* zeros,
                                 long perScale, long inner, int channels, int symmetric, int qmin, int qmax) {
    const int g = get_global_id(0);
    if (g >= channels) return;
    float l = 0.0f, h = 0.0f;
    double s = 0.0;
    for (long o = 0, outer = perScale / inner; o < outer; o++)         // the reference's order: flat index order
        for (long i = (o * channels + g) * inner, end = i + inner; i < end; i++) {
            const float x = src[i];
            l = fmin(l, x);
            h = fmax(h, x);
            s += (double) fabs(x);
        }
    write_scale(scales, zeros, g, l, h, s, perScale, symmetric, qmin, qmax);
}

// ---- element passes. Each work-item takes a run of Q_RUN consecutive elements and follows their scale index
// without dividing per element (64-bit divisions would dominate on CPU drivers). quant_fake: f32 to
// dequantise(quantise(x)); quant_to_bytes: f32 to s8/u8; quant_to_s4: two elements per byte (the odd last byte
// keeps its high nibble, as the reference's read-modify-write does); quant_to_b1: one byte of a row per
// work-item, padding bits 0; dequant: the stored integer to f32.

#define Q_RUN 16

typedef struct { long r; int g; } scale_pos;   // element i: r = i % inner, g = (i / inner) % channels

inline scale_pos scale_start(long i, long inner, int channels) {
    scale_pos p;
    p.r = i % inner;
    p.g = (int) ((i / inner) % channels);
    return p;
}

inline void scale_next(scale_pos* p, long inner, int channels) {
    if (++p->r == inner) {
        p->r = 0;
        if (++p->g == channels) p->g = 0;
    }
}

__kernel void quant_fake(__global const float* src, __global const float* scales, __global const int* zeros,
                         __global float* dst, long count, long inner, int channels, int symmetric, int qmin, int qmax,
                         int stochastic, ulong seed) {
    const long i0 = get_global_id(0) * Q_RUN;
    if (i0 >= count) return;
    const uint key = seed_key(seed, (ulong) i0 >> 32);
    scale_pos p = scale_start(i0, inner, channels);
    for (long i = i0, end = min(i0 + Q_RUN, count); i < end; i++, scale_next(&p, inner, channels)) {
        const float s = scales[p.g];
        const int z = symmetric ? 0 : zeros[p.g];
        dst[i] = dequantize_one(q_of(src[i], i, s, z, qmin, qmax, stochastic, key), s, z);
    }
}

__kernel void quant_to_bytes(__global const float* src, __global const float* scales, __global const int* zeros,
                             __global char* dst, long count, long inner, int channels, int symmetric, int qmin, int qmax,
                             int stochastic, ulong seed) {
    const long i0 = get_global_id(0) * Q_RUN;
    if (i0 >= count) return;
    const uint key = seed_key(seed, (ulong) i0 >> 32);
    scale_pos p = scale_start(i0, inner, channels);
    for (long i = i0, end = min(i0 + Q_RUN, count); i < end; i++, scale_next(&p, inner, channels))
        dst[i] = (char) q_of(src[i], i, scales[p.g], symmetric ? 0 : zeros[p.g], qmin, qmax, stochastic, key);
}

__kernel void quant_to_s4(__global const float* src, __global const float* scales, __global const int* zeros,
                          __global uchar* dst, long count, long inner, int channels, int symmetric, int qmin, int qmax,
                          int stochastic, ulong seed) {
    const long i0 = get_global_id(0) * Q_RUN;                 // Q_RUN is even: a byte never straddles two runs
    if (i0 >= count) return;
    const uint key = seed_key(seed, (ulong) i0 >> 32);
    scale_pos p = scale_start(i0, inner, channels);
    for (long i = i0, end = min(i0 + Q_RUN, count); i < end; i += 2) {
        const int low = q_of(src[i], i, scales[p.g], symmetric ? 0 : zeros[p.g], qmin, qmax, stochastic, key) & 0xF;
        scale_next(&p, inner, channels);
        int high;
        if (i + 1 < count) {
            high = q_of(src[i + 1], i + 1, scales[p.g], symmetric ? 0 : zeros[p.g], qmin, qmax, stochastic, key) & 0xF;
            scale_next(&p, inner, channels);
        } else {
            high = dst[i >> 1] >> 4;
        }
        dst[i >> 1] = (uchar) (low | (high << 4));
    }
}

__kernel void quant_to_b1(__global const float* src, __global uchar* dst, long bytes, int rowLength, int stochastic, ulong seed) {
    const long byteIndex = get_global_id(0);
    if (byteIndex >= bytes) return;
    const int rowBytes = (rowLength + 7) >> 3;
    const long row = byteIndex / rowBytes;
    const int first = (int) (byteIndex % rowBytes) * 8, end = min(first + 8, rowLength);
    uint bits = 0;
    for (int j = first; j < end; j++) {
        const long i = row * rowLength + j;
        const float u = stochastic ? uniform01(seed, i) : 0.0f;
        if (binarize(src[i], stochastic, u) > 0) bits |= 1u << (j - first);
    }
    dst[byteIndex] = (uchar) bits;
}

__kernel void dequant(__global const uchar* q, __global const float* scales, __global const int* zeros,
                      __global float* dst, long count, long inner, int channels, int symmetric, int rowLength) {
    const long i0 = get_global_id(0) * Q_RUN;
    if (i0 >= count) return;
    scale_pos p = scale_start(i0, inner, channels);
#if Q_TYPE == 3
    // b1 rows start on whole bytes: bit = row * 8 * ceil(rowLength / 8) + column, followed like the scale
    const long rowBits = 8 * (long) ((rowLength + 7) / 8);
    int col = (int) (i0 % rowLength);
    long bit = i0 / rowLength * rowBits + col;
#endif
    for (long i = i0, end = min(i0 + Q_RUN, count); i < end; i++, scale_next(&p, inner, channels)) {
#if Q_TYPE == 0
        const int v = (char) q[i];
#elif Q_TYPE == 1
        const int v = q[i];
#elif Q_TYPE == 2
        const int b = q[i >> 1], nib = (i & 1) ? b >> 4 : b & 0xF, v = nib >= 8 ? nib - 16 : nib;
#else
        const int v = (q[bit >> 3] >> (bit & 7)) & 1 ? 1 : -1;
        bit++;
        if (++col == rowLength) {
            col = 0;
            bit += rowBits - rowLength;
        }
#endif
        dst[i] = dequantize_one(v, scales[p.g], symmetric ? 0 : zeros[p.g]);
    }
}
