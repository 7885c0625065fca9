// Direct convolution, f32, NCHW (host side: CudaConv.java). Every descriptor is one of the three linear maps
// of a regular convolution between a "wide" tensor X (n x cx x hx x wx), a "narrow" tensor Y
// (n x cy x hy x wy) and weights W (cy x cx/groups x r x s):
//   Y[b][o][oy][ox] = sum over i, ry, sx of W[o][i][ry][sx] X[b][g*cxg + i][oy*sh - ph + ry*dh][ox*sw - pw + sx*dw]
// with g = o / cyg and out-of-range X reading as zero.
//   conv_fwd_T:     Y = fwd(X, W)      a thread per Y position and a register tile of T output channels
//   conv_data_T:    X = data(Y, W)     a thread per X position and T input channels, gathering from the Y
//                                      positions whose windows cover it (no scatter, no atomics)
//   conv_weights_T: W = weights(X, Y)  a block per (i, ry, sx) and T output channels, its threads splitting
//                                      the batch and Y positions, a fixed tree adding their sums (each dW
//                                      element has exactly one owning block)
//   conv_bias_grad: db[ch] = sum over b and the plane of dy; a block per channel, fixed-shape tree.
// So nothing is atomic and every result is the same on every run. Grid of fwd and data: x over positions
// (grid-stride), y over channel tiles (groups * ceil(channels per group / T), grid-stride), z over the batch
// (grid-stride); of weights: x over (channel tile, weight element) jobs, WEIGHT_THREADS threads each. A tile never crosses a group: its surplus channels (channels per group not a multiple
// of T) read a clamped, valid weight row and are not stored. f32 accumulation in the order (input channel,
// ry, sx) or (b, oy, ox). A null bias pointer means no bias.

#define GEOM_PARAMS int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups, int r, int s, \
                    int sh, int sw, int ph, int pw, int dh, int dw
#define GRID_STRIDE_X(var, count) \
    for (int var = blockIdx.x * blockDim.x + threadIdx.x; var < (count); var += gridDim.x * blockDim.x)

template <int T>
__device__ __forceinline__ void conv_fwd(const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ bias, float* __restrict__ y, GEOM_PARAMS) {
    const int plane = hy * wy, rs = r * s;
    const int cxg = cx / groups, cyg = cy / groups, blocks = (cyg + T - 1) / T, tiles = groups * blocks;
    for (int b = blockIdx.z; b < n; b += gridDim.z)
        for (int tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
            const int grp = tile / blocks, o0 = grp * cyg + (tile % blocks) * T;
            const int live = min(T, (grp + 1) * cyg - o0);
            const float* xg = x + ((long long)b * cx + (long long)grp * cxg) * hx * wx;
            GRID_STRIDE_X(pos, plane) {
                const int oy = pos / wy, ox = pos % wy;
                float acc[T];
                #pragma unroll
                for (int t = 0; t < T; t++) acc[t] = 0.f;
                for (int i = 0; i < cxg; i++) {
                    const float* xc = xg + (long long)i * hx * wx;
                    const float* wi = w + ((long long)o0 * cxg + i) * rs;
                    for (int ry = 0; ry < r; ry++) {
                        const int iy = oy * sh - ph + ry * dh;
                        if (iy < 0 || iy >= hx) continue;
                        for (int sx = 0; sx < s; sx++) {
                            const int ix = ox * sw - pw + sx * dw;
                            if (ix < 0 || ix >= wx) continue;
                            const float xv = xc[iy * wx + ix];
                            const int tap = ry * s + sx;
                            #pragma unroll
                            for (int t = 0; t < T; t++)
                                acc[t] = fmaf(xv, wi[(long long)min(t, live - 1) * cxg * rs + tap], acc[t]);
                        }
                    }
                }
                #pragma unroll
                for (int t = 0; t < T; t++)
                    if (t < live)
                        y[((long long)b * cy + o0 + t) * plane + pos] = acc[t] + (bias != nullptr ? bias[o0 + t] : 0.f);
            }
        }
}

template <int T>
__device__ __forceinline__ void conv_data(const float* __restrict__ y, const float* __restrict__ w,
                                          const float* __restrict__ bias, float* __restrict__ x, GEOM_PARAMS) {
    const int plane = hx * wx, rs = r * s, yplane = hy * wy;
    const int cxg = cx / groups, cyg = cy / groups, blocks = (cxg + T - 1) / T, tiles = groups * blocks;
    for (int b = blockIdx.z; b < n; b += gridDim.z)
        for (int tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
            const int grp = tile / blocks, i0 = (tile % blocks) * T;
            const int live = min(T, cxg - i0);
            const int c0 = grp * cxg + i0;
            GRID_STRIDE_X(pos, plane) {
                const int iy = pos / wx, ix = pos % wx;
                float acc[T];
                #pragma unroll
                for (int t = 0; t < T; t++) acc[t] = 0.f;
                for (int o = grp * cyg; o < (grp + 1) * cyg; o++) {
                    const float* yc = y + ((long long)b * cy + o) * yplane;
                    const float* wo = w + ((long long)o * cxg + i0) * rs;
                    for (int ry = 0; ry < r; ry++) {
                        // Y row oy reads this X row through tap ry when oy*sh - ph + ry*dh == iy.
                        const int ty = iy + ph - ry * dh;
                        if (ty < 0 || ty % sh != 0 || ty / sh >= hy) continue;
                        const int oy = ty / sh;
                        for (int sx = 0; sx < s; sx++) {
                            const int tx = ix + pw - sx * dw;
                            if (tx < 0 || tx % sw != 0 || tx / sw >= wy) continue;
                            const float yv = yc[oy * wy + tx / sw];
                            const int tap = ry * s + sx;
                            #pragma unroll
                            for (int t = 0; t < T; t++)
                                acc[t] = fmaf(yv, wo[(long long)min(t, live - 1) * rs + tap], acc[t]);
                        }
                    }
                }
                #pragma unroll
                for (int t = 0; t < T; t++)
                    if (t < live)
                        x[((long long)b * cx + c0 + t) * plane + pos] = acc[t] + (bias != nullptr ? bias[c0 + t] : 0.f);
            }
        }
}

#define WEIGHT_THREADS 128

// One block per (channel tile, weight element e = (i, ry, sx)), grid-stride over those jobs: the block's
// threads split the n * hy * wy output positions (strided, each in order), then a fixed-shape tree in shared
// memory adds the per-thread sums, so each dW element has one owning block and the same result every run.
template <int T>
__device__ __forceinline__ void conv_weights(const float* __restrict__ x, const float* __restrict__ y,
                                             float* __restrict__ w, GEOM_PARAMS) {
    __shared__ float partial[T][WEIGHT_THREADS];
    const int cxg = cx / groups, cyg = cy / groups, rs = r * s, yplane = hy * wy, elems = cxg * rs;
    const int blocks = (cyg + T - 1) / T;
    const long long jobs = (long long)groups * blocks * elems, positions = (long long)n * yplane;
    const int tid = threadIdx.x;
    for (long long job = blockIdx.x; job < jobs; job += gridDim.x) {
        const int tile = (int)(job / elems), e = (int)(job % elems);
        const int grp = tile / blocks, o0 = grp * cyg + (tile % blocks) * T;
        const int live = min(T, (grp + 1) * cyg - o0);
        const int i = e / rs, tap = e % rs, ry = tap / s, sx = tap % s;
        float acc[T];
        #pragma unroll
        for (int t = 0; t < T; t++) acc[t] = 0.f;
        for (long long at = tid; at < positions; at += WEIGHT_THREADS) {
            const int b = (int)(at / yplane), pos = (int)(at % yplane), oy = pos / wy, ox = pos % wy;
            const int iy = oy * sh - ph + ry * dh, ix = ox * sw - pw + sx * dw;
            if (iy < 0 || iy >= hx || ix < 0 || ix >= wx) continue;
            const float xv = x[((long long)b * cx + (long long)grp * cxg + i) * hx * wx + iy * wx + ix];
            const float* yb = y + ((long long)b * cy + o0) * yplane + pos;
            #pragma unroll
            for (int t = 0; t < T; t++) acc[t] = fmaf(xv, yb[(long long)min(t, live - 1) * yplane], acc[t]);
        }
        #pragma unroll
        for (int t = 0; t < T; t++) partial[t][tid] = acc[t];
        __syncthreads();
        for (int span = WEIGHT_THREADS / 2; span > 0; span >>= 1) {
            if (tid < span) {
                #pragma unroll
                for (int t = 0; t < T; t++) partial[t][tid] += partial[t][tid + span];
            }
            __syncthreads();
        }
        if (tid < live) w[((long long)(o0 + tid) * cxg + i) * rs + tap] = partial[tid][0];
        __syncthreads();   // partial is read above before the next job overwrites it
    }
}

#define CONV_KERNELS(T)                                                                                          \
    extern "C" __global__ void conv_fwd_##T(const float* x, const float* w, const float* bias, float* y,          \
                                            GEOM_PARAMS) {                                                       \
        conv_fwd<T>(x, w, bias, y, n, cx, hx, wx, cy, hy, wy, groups, r, s, sh, sw, ph, pw, dh, dw);            \
    }                                                                                                            \
    extern "C" __global__ void conv_data_##T(const float* y, const float* w, const float* bias, float* x,         \
                                             GEOM_PARAMS) {                                                      \
        conv_data<T>(y, w, bias, x, n, cx, hx, wx, cy, hy, wy, groups, r, s, sh, sw, ph, pw, dh, dw);           \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(WEIGHT_THREADS)                                                 \
    conv_weights_##T(const float* x, const float* y, float* w, GEOM_PARAMS) {                                    \
        conv_weights<T>(x, y, w, n, cx, hx, wx, cy, hy, wy, groups, r, s, sh, sw, ph, pw, dh, dw);              \
    }

CONV_KERNELS(1)
CONV_KERNELS(4)
CONV_KERNELS(8)

#define BIAS_GRAD_THREADS 128

// db[ch] = sum of dy[b][ch][e] over b < n and e < plane; a block of BIAS_GRAD_THREADS per channel: each thread
// sums a strided slice in order, then a fixed tree in shared memory combines them (deterministic).
extern "C" __global__ void __launch_bounds__(BIAS_GRAD_THREADS)
conv_bias_grad(const float* __restrict__ dy, float* __restrict__ db, int n, int k, int plane) {
    __shared__ float partial[BIAS_GRAD_THREADS];
    const long long per = (long long)n * plane;
    for (int ch = blockIdx.x; ch < k; ch += gridDim.x) {
        float sum = 0.f;
        for (long long e = threadIdx.x; e < per; e += BIAS_GRAD_THREADS)
            sum += dy[((e / plane) * k + ch) * plane + e % plane];
        partial[threadIdx.x] = sum;
        __syncthreads();
        for (int span = BIAS_GRAD_THREADS / 2; span > 0; span >>= 1) {
            if (threadIdx.x < span) partial[threadIdx.x] += partial[threadIdx.x + span];
            __syncthreads();
        }
        if (threadIdx.x == 0) db[ch] = partial[0];
        __syncthreads();   // partial[0] is read before the next channel overwrites it
    }
}
