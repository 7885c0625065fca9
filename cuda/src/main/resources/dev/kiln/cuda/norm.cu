// Batch, layer and RMS normalisation, f32 (host side: CudaNorm.java). Each statistic covers a set of `per`
// elements; element e of set st lives at (e / inner) * outerStride + st * setStride + e % inner:
//   BATCH (set = channel):  inner = spatial, setStride = spatial, outerStride = c * spatial, per = n * spatial
//   LAYER, RMS (set = row): inner = c, setStride = c, outerStride = 0, per = c
// and its gamma/beta index is st for BATCH (channelIsSet) and e otherwise.
// Training forward and backward run one block of NORM_THREADS threads per set (grid-stride over sets): each
// thread sums a strided slice in order, then a fixed-shape tree in shared memory combines the partial sums,
// so the result does not depend on scheduling and is the same on every run. Mean and variance take two
// passes (no E[x^2] - E[x]^2 cancellation). Formulas as the reference (RefNorm): rstd = 1/sqrt(var + eps),
// y = (x - mean) rstd gamma + beta; backward dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma
// (RMS: no mean, no beta, no mean(g)). mean, beta and dbeta may be null for RMS and are then not touched.

#define NORM_THREADS 128

// The sum of v over the block, every thread getting it; every thread must call it.
__device__ __forceinline__ float norm_block_sum(float v, float* scratch) {
    scratch[threadIdx.x] = v;
    __syncthreads();
    #pragma unroll
    for (int span = NORM_THREADS / 2; span > 0; span >>= 1) {
        if (threadIdx.x < span) scratch[threadIdx.x] += scratch[threadIdx.x + span];
        __syncthreads();
    }
    const float total = scratch[0];
    __syncthreads();   // scratch is reused by the next sum
    return total;
}

#define NORM_SET_PARAMS int sets, int per, int inner, long long outerStride, long long setStride, int channelIsSet
#define NORM_AT(st, e) (((long long)(e) / inner) * outerStride + (long long)(st) * setStride + (e) % inner)
#define NORM_CH(st, e) (channelIsSet ? (st) : (e))

extern "C" __global__ void __launch_bounds__(NORM_THREADS)
norm_fwd_train(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
               float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd, NORM_SET_PARAMS,
               int rms, float eps) {
    __shared__ float scratch[NORM_THREADS];
    const int lid = threadIdx.x;
    for (int st = blockIdx.x; st < sets; st += gridDim.x) {
        float part = 0.f;
        if (!rms) for (int e = lid; e < per; e += NORM_THREADS) part += x[NORM_AT(st, e)];
        const float mu = rms ? 0.f : norm_block_sum(part, scratch) / per;
        part = 0.f;
        for (int e = lid; e < per; e += NORM_THREADS) {
            const float c = x[NORM_AT(st, e)] - mu;
            part = fmaf(c, c, part);
        }
        const float rs = 1.f / sqrtf(norm_block_sum(part, scratch) / per + eps);
        if (lid == 0) {
            if (!rms) mean[st] = mu;
            rstd[st] = rs;
        }
        for (int e = lid; e < per; e += NORM_THREADS) {
            const long long at = NORM_AT(st, e);
            const int ch = NORM_CH(st, e);
            y[at] = (x[at] - mu) * rs * gamma[ch] + (rms ? 0.f : beta[ch]);
        }
    }
}

// Batch-norm inference: elementwise with the running statistics; channel = (i / spatial) % c.
extern "C" __global__ void norm_inference(const float* __restrict__ x, const float* __restrict__ gamma,
                                          const float* __restrict__ beta, const float* __restrict__ mean,
                                          const float* __restrict__ var, float* __restrict__ y, long long count,
                                          int c, int spatial, float eps) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        const int ch = (int)((i / spatial) % c);
        y[i] = (x[i] - mean[ch]) * (1.f / sqrtf(var[ch] + eps)) * gamma[ch] + beta[ch];
    }
}

// Backward per set: dx, and for BATCH also dgamma/dbeta of the set's channel (paramsHere); layer and RMS
// norm get those from norm_param_grad, as their parameters span the sets.
extern "C" __global__ void __launch_bounds__(NORM_THREADS)
norm_bwd(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ mean,
         const float* __restrict__ rstd, const float* __restrict__ dy, float* __restrict__ dx,
         float* __restrict__ dgamma, float* __restrict__ dbeta, NORM_SET_PARAMS, int rms, int paramsHere) {
    __shared__ float scratch[NORM_THREADS];
    const int lid = threadIdx.x;
    for (int st = blockIdx.x; st < sets; st += gridDim.x) {
        const float mu = rms ? 0.f : mean[st], rs = rstd[st];
        float sg = 0.f, sgx = 0.f, sdx = 0.f, sd = 0.f;
        for (int e = lid; e < per; e += NORM_THREADS) {
            const long long at = NORM_AT(st, e);
            const float xhat = (x[at] - mu) * rs, d = dy[at], g = d * gamma[NORM_CH(st, e)];
            sg += g;
            sgx = fmaf(g, xhat, sgx);
            sdx = fmaf(d, xhat, sdx);
            sd += d;
        }
        const float meanG = rms ? 0.f : norm_block_sum(sg, scratch) / per;
        const float meanGX = norm_block_sum(sgx, scratch) / per;
        if (paramsHere) {
            const float dg = norm_block_sum(sdx, scratch), dbv = norm_block_sum(sd, scratch);
            if (lid == 0) {
                dgamma[st] = dg;
                if (!rms) dbeta[st] = dbv;
            }
        }
        for (int e = lid; e < per; e += NORM_THREADS) {
            const long long at = NORM_AT(st, e);
            const float xhat = (x[at] - mu) * rs, g = dy[at] * gamma[NORM_CH(st, e)];
            dx[at] = rs * (g - meanG - xhat * meanGX);
        }
    }
}

// Layer/RMS parameter gradients: one thread per channel, summing over the n rows in order.
extern "C" __global__ void norm_param_grad(const float* __restrict__ x, const float* __restrict__ mean,
                                           const float* __restrict__ rstd, const float* __restrict__ dy,
                                           float* __restrict__ dgamma, float* __restrict__ dbeta, int n, int c, int rms) {
    for (int ch = blockIdx.x * blockDim.x + threadIdx.x; ch < c; ch += gridDim.x * blockDim.x) {
        float dg = 0.f, db = 0.f;
        for (int b = 0; b < n; b++) {
            const long long at = (long long)b * c + ch;
            const float xhat = (x[at] - (rms ? 0.f : mean[b])) * rstd[b];
            dg = fmaf(dy[at], xhat, dg);
            db += dy[at];
        }
        dgamma[ch] = dg;
        if (!rms) dbeta[ch] = db;
    }
}
