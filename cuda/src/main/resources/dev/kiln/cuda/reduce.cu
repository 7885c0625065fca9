// Reductions for the Kiln CUDA backend (host side: CudaReduce.java).
//
// The tensor is outer x length x inner (row-major), reduced along the middle axis:
// dst[o][i] = op over l of src[o][l][i]. op codes are the ordinals of dev.kiln.kernels.desc.ReduceOp:
// 0 SUM, 1 MEAN, 2 MAX; ARGMAX has its own kernels (s32 output). As in the reference
// (dev.kiln.kernels.ref.RefReduce): SUM and MEAN accumulate in double (so the result does not depend
// on the summation order beyond rounding of the final f32); MAX propagates NaN like Math.max; ARGMAX
// is the first index of the maximum, where a NaN is never chosen unless it is element 0.
//
// *_rows kernels: inner == 1, one block per row (grid-stride), block reductions. *_cols kernels: one
// thread per (outer, inner) column walking the length in order, coalesced across inner.

#include "block_reduce.cuh"

#define OP_SUM 0
#define OP_MEAN 1
#define OP_MAX 2

#define NONE 0x7fffffff   // "no candidate yet" for argmax

extern "C" __global__ void reduce_rows(const float* __restrict__ src, float* __restrict__ dst, int rows, int length,
                                       int op) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* x = src + (long long)r * length;
        if (op == OP_MAX) {
            float m = -INFINITY;
            for (int l = threadIdx.x; l < length; l += blockDim.x) m = jmaxf(m, x[l]);
            m = block_max(m);
            if (threadIdx.x == 0) dst[r] = m;
        } else {
            double s = 0.0;
            for (int l = threadIdx.x; l < length; l += blockDim.x) s += x[l];
            s = block_sum(s);
            if (threadIdx.x == 0) dst[r] = (float)(op == OP_MEAN ? s / length : s);
        }
    }
}

extern "C" __global__ void reduce_cols(const float* __restrict__ src, float* __restrict__ dst, int outer, int length,
                                       int inner, int op) {
    const long long columns = (long long)outer * inner;
    for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < columns;
         c += (long long)gridDim.x * blockDim.x) {
        const float* x = src + (c / inner) * length * inner + c % inner;
        if (op == OP_MAX) {
            float m = -INFINITY;
            for (int l = 0; l < length; ++l) m = jmaxf(m, x[(long long)l * inner]);
            dst[c] = m;
        } else {
            double s = 0.0;
            for (int l = 0; l < length; ++l) s += x[(long long)l * inner];
            dst[c] = (float)(op == OP_MEAN ? s / length : s);
        }
    }
}

// Candidate (value, index) pairs: the larger value wins, an equal value goes to the lower index, and
// index NONE (no non-NaN element seen) loses to anything.
struct ArgMax { float v; int i; };

__device__ __forceinline__ ArgMax better(ArgMax a, ArgMax b) {
    if (a.i == NONE) return b;
    if (b.i == NONE) return a;
    if (a.v > b.v) return a;
    if (b.v > a.v) return b;
    return a.i < b.i ? a : b;
}

__device__ __forceinline__ ArgMax consider(ArgMax best, float v, int l) {
    return (v == v && (best.i == NONE || v > best.v)) ? ArgMax{v, l} : best;   // in increasing l: keeps the first
}

extern "C" __global__ void argmax_rows(const float* __restrict__ src, int* __restrict__ dst, int rows, int length) {
    __shared__ ArgMax partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* x = src + (long long)r * length;
        ArgMax best{0.f, NONE};
        for (int l = threadIdx.x; l < length; l += blockDim.x) best = consider(best, x[l], l);
        #pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) {
            ArgMax other{__shfl_xor_sync(0xffffffffu, best.v, offset), __shfl_xor_sync(0xffffffffu, best.i, offset)};
            best = better(best, other);
        }
        __syncthreads();
        if (lane == 0) partial[warp] = best;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < warps; ++w) best = better(best, partial[w]);
            // The reference starts from element 0, so a NaN there (or an all-NaN row) gives 0.
            dst[r] = (x[0] != x[0] || best.i == NONE) ? 0 : best.i;
        }
    }
}

extern "C" __global__ void argmax_cols(const float* __restrict__ src, int* __restrict__ dst, int outer, int length,
                                       int inner) {
    const long long columns = (long long)outer * inner;
    for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < columns;
         c += (long long)gridDim.x * blockDim.x) {
        const float* x = src + (c / inner) * length * inner + c % inner;
        int arg = 0;
        float best = x[0];
        for (int l = 1; l < length; ++l) {
            const float v = x[(long long)l * inner];
            if (v > best) { best = v; arg = l; }
        }
        dst[c] = arg;
    }
}
