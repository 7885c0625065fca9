// Max and average pooling, f32, over planes (n*c) of h x w; windows kh x kw at stride (sh, sw), padding
// (ph, pw) (host side: CudaPool.java). Window (oy, ox) covers rows oy*sh - ph + [0, kh) and columns alike;
// only in-bounds elements take part (the descriptor guarantees every window has one).
// Forward: one thread per output. Max keeps the first in-bounds element, in row-major window order, that is
// strictly greater than all before it, and writes its y*w + x to idx (padding never wins), as the reference.
// Backward: one thread per input element, gathering from the windows that cover it: nothing is scattered,
// nothing is atomic, the result is the same on every run. Max adds dy of each covering window whose index
// names this element; average adds dy / divisor of each. f32 sums in window order. Grid-stride loops.

#define POOL_PARAMS int planes, int h, int w, int p, int q, int kh, int kw, int sh, int sw, int ph, int pw
#define POOL_LOOP(var, count) \
    for (long long var = (long long)blockIdx.x * blockDim.x + threadIdx.x; var < (count); \
         var += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void pool_max_fwd(const float* __restrict__ src, float* __restrict__ dst, int* __restrict__ idx,
                                        POOL_PARAMS) {
    POOL_LOOP(out, (long long)planes * p * q) {
        const long long pl = out / ((long long)p * q);
        const int oy = (int)((out / q) % p), ox = (int)(out % q);
        const int y0 = oy * sh - ph, x0 = ox * sw - pw;
        const int ya = max(0, y0), yb = min(h, y0 + kh), xa = max(0, x0), xb = min(w, x0 + kw);
        const float* plane = src + pl * h * w;
        int best = -1;
        float bestV = 0.f;
        for (int y = ya; y < yb; y++)
            for (int x = xa; x < xb; x++) {
                const float v = plane[y * w + x];
                if (best < 0 || v > bestV) { best = y * w + x; bestV = v; }
            }
        dst[out] = bestV;
        idx[out] = best;
    }
}

// The divisor of window (oy, ox): the whole window, or its in-bounds part.
__device__ __forceinline__ float pool_divisor(int oy, int ox, int h, int w, int kh, int kw, int sh, int sw, int ph,
                                              int pw, int countPadding) {
    if (countPadding) return (float)(kh * kw);
    const int y0 = oy * sh - ph, x0 = ox * sw - pw;
    return (float)((min(h, y0 + kh) - max(0, y0)) * (min(w, x0 + kw) - max(0, x0)));
}

extern "C" __global__ void pool_avg_fwd(const float* __restrict__ src, float* __restrict__ dst, POOL_PARAMS,
                                        int countPadding) {
    POOL_LOOP(out, (long long)planes * p * q) {
        const long long pl = out / ((long long)p * q);
        const int oy = (int)((out / q) % p), ox = (int)(out % q);
        const int y0 = oy * sh - ph, x0 = ox * sw - pw;
        const int ya = max(0, y0), yb = min(h, y0 + kh), xa = max(0, x0), xb = min(w, x0 + kw);
        const float* plane = src + pl * h * w;
        float sum = 0.f;
        for (int y = ya; y < yb; y++)
            for (int x = xa; x < xb; x++) sum += plane[y * w + x];
        dst[out] = sum / pool_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, countPadding);
    }
}

// The outputs along one axis whose windows cover input coordinate v: [lo, hi). Window o starts at
// o*stride - pad and covers v when o*stride - pad <= v < o*stride - pad + k.
__device__ __forceinline__ void pool_cover(int v, int pad, int k, int stride, int outs, int& lo, int& hi) {
    const int first = v + pad - k + 1;   // the window must start at or after this
    lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    hi = min(outs, (v + pad) / stride + 1);
}

extern "C" __global__ void pool_max_bwd(const float* __restrict__ dy, const int* __restrict__ idx,
                                        float* __restrict__ dx, POOL_PARAMS) {
    POOL_LOOP(at, (long long)planes * h * w) {
        const long long pl = at / ((long long)h * w);
        const int y = (int)((at / w) % h), x = (int)(at % w);
        int oyLo, oyHi, oxLo, oxHi;
        pool_cover(y, ph, kh, sh, p, oyLo, oyHi);
        pool_cover(x, pw, kw, sw, q, oxLo, oxHi);
        const long long base = pl * p * q;
        const int self = y * w + x;
        float sum = 0.f;
        for (int oy = oyLo; oy < oyHi; oy++)
            for (int ox = oxLo; ox < oxHi; ox++) {
                const long long out = base + (long long)oy * q + ox;
                if (idx[out] == self) sum += dy[out];
            }
        dx[at] = sum;
    }
}

extern "C" __global__ void pool_avg_bwd(const float* __restrict__ dy, float* __restrict__ dx, POOL_PARAMS,
                                        int countPadding) {
    POOL_LOOP(at, (long long)planes * h * w) {
        const long long pl = at / ((long long)h * w);
        const int y = (int)((at / w) % h), x = (int)(at % w);
        int oyLo, oyHi, oxLo, oxHi;
        pool_cover(y, ph, kh, sh, p, oyLo, oyHi);
        pool_cover(x, pw, kw, sw, q, oxLo, oxHi);
        const long long base = pl * p * q;
        float sum = 0.f;
        for (int oy = oyLo; oy < oyHi; oy++)
            for (int ox = oxLo; ox < oxHi; ox++)
                sum += dy[base + (long long)oy * q + ox] / pool_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, countPadding);
        dx[at] = sum;
    }
}
