// Max and average pooling over planes (n*c) of h x w f32, windows kh x kw at stride (sh, sw), padding (ph, pw).
// Window (oy, ox) covers rows oy*sh - ph + [0, kh) and columns likewise; only in-bounds elements take part
// (the descriptor guarantees every window has one).
// Forward: one work-item per output. Max keeps the first in-bounds element in row-major window order that is
// strictly greater than all before it and writes its y*w+x to idx (padding never wins).
// Backward: one work-item per input element, gathering from the windows that cover it, so nothing is
// scattered and the result is deterministic. Max adds dy of each covering window whose index names this
// element; average adds dy / divisor of each covering window. Sums are f32, in window order.

#define POOL_GEOM int planes, int h, int w, int p, int q, int kh, int kw, int sh, int sw, int ph, int pw

__kernel void pool_max_fwd(__global const float* src, __global float* dst, __global int* idx, POOL_GEOM) {
    const long out = get_global_id(0);
    if (out >= (long) planes * p * q) return;
    const long pl = out / ((long) p * q);
    const int oy = (out / q) % p, ox = out % q;
    const int y0 = oy * sh - ph, x0 = ox * sw - pw;
    const int ya = max(0, y0), yb = min(h, y0 + kh), xa = max(0, x0), xb = min(w, x0 + kw);
    __global const float* plane = src + pl * h * w;
    int best = -1;
    float bestV = 0.0f;
    for (int y = ya; y < yb; y++)
        for (int x = xa; x < xb; x++) {
            const float v = plane[y * w + x];
            if (best < 0 || v > bestV) { best = y * w + x; bestV = v; }
        }
    dst[out] = bestV;
    idx[out] = best;
}

/** The divisor of window (oy, ox): the whole window, or its in-bounds part. */
inline float pool_divisor(int oy, int ox, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int countPadding) {
    if (countPadding) return (float) (kh * kw);
    const int y0 = oy * sh - ph, x0 = ox * sw - pw;
    return (float) ((min(h, y0 + kh) - max(0, y0)) * (min(w, x0 + kw) - max(0, x0)));
}

__kernel void pool_avg_fwd(__global const float* src, __global float* dst, POOL_GEOM, int countPadding) {
    const long out = get_global_id(0);
    if (out >= (long) planes * p * q) return;
    const long pl = out / ((long) p * q);
    const int oy = (out / q) % p, ox = out % q;
    const int y0 = oy * sh - ph, x0 = ox * sw - pw;
    const int ya = max(0, y0), yb = min(h, y0 + kh), xa = max(0, x0), xb = min(w, x0 + kw);
    __global const float* plane = src + pl * h * w;
    float sum = 0.0f;
    for (int y = ya; y < yb; y++)
        for (int x = xa; x < xb; x++) sum += plane[y * w + x];
    dst[out] = sum / pool_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, countPadding);
}

/** The outputs along one axis whose windows cover input coordinate v: [*lo, *hi). */
inline void pool_cover(int v, int pad, int k, int stride, int outs, int* lo, int* hi) {
    const int first = v + pad - k + 1; // the window must start at or after this
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = min(outs, (v + pad) / stride + 1);
}

#define POOL_BWD_PROLOGUE \
    const long at = get_global_id(0); \
    if (at >= (long) planes * h * w) return; \
    const long pl = at / ((long) h * w); \
    const int y = (at / w) % h, x = at % w; \
    int oyLo, oyHi, oxLo, oxHi; \
    pool_cover(y, ph, kh, sh, p, &oyLo, &oyHi); \
    pool_cover(x, pw, kw, sw, q, &oxLo, &oxHi); \
    const long base = pl * p * q; \
    float sum = 0.0f;

__kernel void pool_max_bwd(__global const float* dy, __global const int* idx, __global float* dx, POOL_GEOM) {
    POOL_BWD_PROLOGUE
    const int self = y * w + x;
    for (int oy = oyLo; oy < oyHi; oy++)
        for (int ox = oxLo; ox < oxHi; ox++) {
            const long out = base + (long) oy * q + ox;
            if (idx[out] == self) sum += dy[out];
        }
    dx[at] = sum;
}

__kernel void pool_avg_bwd(__global const float* dy, __global float* dx, POOL_GEOM, int countPadding) {
    POOL_BWD_PROLOGUE
    for (int oy = oyLo; oy < oyHi; oy++)
        for (int ox = oxLo; ox < oxHi; ox++)
            sum += dy[base + (long) oy * q + ox] / pool_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, countPadding);
    dx[at] = sum;
}
