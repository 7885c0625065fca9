// Block-wide reductions shared by softmax.cu and reduce.cu. blockDim.x must be a multiple of 32, at most
// 1024. Every thread of the block must call them (they contain barriers); every thread gets the result.
#pragma once

// Java's Math.max: NaN if either input is NaN (fmaxf would drop it).
__device__ __forceinline__ float jmaxf(float a, float b) { return a != a ? a : (b != b ? b : fmaxf(a, b)); }

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, Op op) {
    __shared__ T partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_reduce(v, op);
    __syncthreads();                       // the previous call's readers are done with partial[]
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = partial[0];
    for (int w = 1; w < warps; ++w) v = op(v, partial[w]);   // same order in every thread: same result
    return v;
}

__device__ __forceinline__ float block_max(float v) {
    return block_reduce(v, [](float a, float b) { return jmaxf(a, b); });
}

__device__ __forceinline__ float block_sum(float v) {
    return block_reduce(v, [](float a, float b) { return a + b; });
}

__device__ __forceinline__ double block_sum(double v) {
    return block_reduce(v, [](double a, double b) { return a + b; });
}
