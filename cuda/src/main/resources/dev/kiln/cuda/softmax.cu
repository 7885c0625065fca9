// Softmax and log-softmax for the Kiln CUDA backend (host side: CudaSoftmax.java).
//
// The tensor is outer x length x inner (row-major); softmax runs along the middle axis, stably: with
// m = max x, softmax = exp(x - m) / sum exp(x - m) and log-softmax = x - m - log(sum exp(x - m)).
// Backward reads the forward output y and dy: softmax dx = y (dy - sum dy*y); log-softmax
// dx = dy - exp(y) sum dy. (dev.kiln.kernels.ref.RefSoftmax is the oracle.)
//
// Two shapes of kernel. *_rows: inner == 1, one block per row (grid-stride over rows), block
// reductions; the host picks it when rows are long enough to occupy a block. *_cols: one thread per
// (outer, inner) column walking the length sequentially; consecutive threads read consecutive inner
// elements, so loads coalesce when inner is large, and it serves short rows too.
// Sums are f32: the terms are in (0, 1], so the relative error stays near length * 2^-24.

#include "block_reduce.cuh"

extern "C" __global__ void softmax_rows_fwd(const float* __restrict__ src, float* __restrict__ dst, int rows,
                                            int length, int log_softmax) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* x = src + (long long)r * length;
        float* y = dst + (long long)r * length;
        float m = -INFINITY;
        for (int l = threadIdx.x; l < length; l += blockDim.x) m = jmaxf(m, x[l]);
        m = block_max(m);
        float s = 0.f;
        for (int l = threadIdx.x; l < length; l += blockDim.x) s += expf(x[l] - m);
        s = block_sum(s);
        if (log_softmax) {
            const float ls = logf(s);
            for (int l = threadIdx.x; l < length; l += blockDim.x) y[l] = x[l] - m - ls;
        } else {
            for (int l = threadIdx.x; l < length; l += blockDim.x) y[l] = expf(x[l] - m) / s;
        }
    }
}

extern "C" __global__ void softmax_rows_bwd(const float* __restrict__ dst, const float* __restrict__ diff_dst,
                                            float* __restrict__ diff_src, int rows, int length, int log_softmax) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const long long base = (long long)r * length;
        const float* y = dst + base;
        const float* dy = diff_dst + base;
        float* dx = diff_src + base;
        float dot = 0.f;
        for (int l = threadIdx.x; l < length; l += blockDim.x) dot += log_softmax ? dy[l] : dy[l] * y[l];
        dot = block_sum(dot);
        for (int l = threadIdx.x; l < length; l += blockDim.x)
            dx[l] = log_softmax ? dy[l] - expf(y[l]) * dot : y[l] * (dy[l] - dot);
    }
}

extern "C" __global__ void softmax_cols_fwd(const float* __restrict__ src, float* __restrict__ dst, int outer,
                                            int length, int inner, int log_softmax) {
    const long long columns = (long long)outer * inner;
    for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < columns;
         c += (long long)gridDim.x * blockDim.x) {
        const long long base = (c / inner) * length * inner + c % inner;
        const float* x = src + base;
        float* y = dst + base;
        float m = -INFINITY;
        for (int l = 0; l < length; ++l) m = jmaxf(m, x[(long long)l * inner]);
        float s = 0.f;
        for (int l = 0; l < length; ++l) s += expf(x[(long long)l * inner] - m);
        const float ls = logf(s);
        for (int l = 0; l < length; ++l) {
            const float z = x[(long long)l * inner] - m;
            y[(long long)l * inner] = log_softmax ? z - ls : expf(z) / s;
        }
    }
}

extern "C" __global__ void softmax_cols_bwd(const float* __restrict__ dst, const float* __restrict__ diff_dst,
                                            float* __restrict__ diff_src, int outer, int length, int inner,
                                            int log_softmax) {
    const long long columns = (long long)outer * inner;
    for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < columns;
         c += (long long)gridDim.x * blockDim.x) {
        const long long base = (c / inner) * length * inner + c % inner;
        const float* y = dst + base;
        const float* dy = diff_dst + base;
        float* dx = diff_src + base;
        float dot = 0.f;
        for (int l = 0; l < length; ++l) {
            const long long at = (long long)l * inner;
            dot += log_softmax ? dy[at] : dy[at] * y[at];
        }
        for (int l = 0; l < length; ++l) {
            const long long at = (long long)l * inner;
            dx[at] = log_softmax ? dy[at] - expf(y[at]) * dot : y[at] * (dy[at] - dot);
        }
    }
}
