// Direct convolution, f32, NCHW, the three linear maps of one regular convolution (see OpenClConv):
// a "wide" tensor X (n x cx x hx x wx), a "narrow" tensor Y (n x cy x hy x wy) and weights W
// (cy x cx/groups x r x s), Y[b][o][y][x] = sum W[o][i][ry][sx] X[b][g cxg + i][y sh - ph + ry dh][x sw - pw + sx dw]
// with g = o / cyg and out-of-range X reading as zero.
//   conv_fwd_T:     Y = fwd(X, W)      one work-item per Y position, a register tile of T output channels
//   conv_data_T:    X = data(Y, W)     one work-item per X position, T input channels, gathering from the
//                                      Y positions whose windows cover it (no scatter, no atomics)
//   conv_weights_T: W = weights(X, Y)  one work-item per (i, ry, sx), T output channels, looping over the
//                                      batch and every Y position (each dW element has exactly one owner,
//                                      so the result is deterministic)
//   conv_bias_grad: db[ch] = sum over b and the plane of dy; one work-item per channel.
// Dimension 0 runs over positions (contiguous), so CPU drivers vectorise across work-items and GPUs
// coalesce; the T-wide channel tile reuses each loaded input value T times. Channel tiles never cross a
// group: a tile's surplus channels (cyg not a multiple of T) read a clamped, valid weight row and are not
// stored. f32 accumulation in the order (input channel, ry, sx) or (b, y, x).

#define GEOM int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups, int r, int s, \
             int sh, int sw, int ph, int pw, int dh, int dw

#define CONV_FWD(T) \
__kernel void conv_fwd_##T(__global const float* x, __global const float* w, __global const float* bias, int hasBias, \
                           __global float* y, GEOM) { \
    const int plane = hy * wy, pos = get_global_id(0); \
    if (pos >= plane) return; \
    const int cxg = cx / groups, cyg = cy / groups, blocks = (cyg + T - 1) / T; \
    const int grp = get_global_id(1) / blocks, o0 = grp * cyg + (get_global_id(1) % blocks) * T; \
    const int live = min(T, (grp + 1) * cyg - o0); \
    const long b = get_global_id(2); \
    const int oy = pos / wy, ox = pos % wy, rs = r * s; \
    float acc[T]; \
    for (int t = 0; t < T; t++) acc[t] = 0.0f; \
    __global const float* xg = x + (b * cx + (long) grp * cxg) * hx * wx; \
    for (int i = 0; i < cxg; i++) { \
        __global const float* xc = xg + (long) i * hx * wx; \
        __global const float* wi = w + ((long) o0 * cxg + i) * rs; \
        for (int ry = 0; ry < r; ry++) { \
            const int iy = oy * sh - ph + ry * dh; \
            if (iy < 0 || iy >= hx) continue; \
            for (int sx = 0; sx < s; sx++) { \
                const int ix = ox * sw - pw + sx * dw; \
                if (ix < 0 || ix >= wx) continue; \
                const float xv = xc[iy * wx + ix]; \
                const int tap = ry * s + sx; \
                for (int t = 0; t < T; t++) acc[t] = fma(xv, wi[(long) min(t, live - 1) * cxg * rs + tap], acc[t]); \
            } \
        } \
    } \
    for (int t = 0; t < live; t++) \
        y[(b * cy + o0 + t) * plane + pos] = acc[t] + (hasBias ? bias[o0 + t] : 0.0f); \
}

#define CONV_DATA(T) \
__kernel void conv_data_##T(__global const float* y, __global const float* w, __global const float* bias, int hasBias, \
                            __global float* x, GEOM) { \
    const int plane = hx * wx, pos = get_global_id(0); \
    if (pos >= plane) return; \
    const int cxg = cx / groups, cyg = cy / groups, blocks = (cxg + T - 1) / T; \
    const int grp = get_global_id(1) / blocks, i0 = (get_global_id(1) % blocks) * T; \
    const int live = min(T, cxg - i0); \
    const long b = get_global_id(2); \
    const int iy = pos / wx, ix = pos % wx, rs = r * s; \
    float acc[T]; \
    for (int t = 0; t < T; t++) acc[t] = 0.0f; \
    for (int o = grp * cyg; o < (grp + 1) * cyg; o++) { \
        __global const float* yc = y + (b * cy + o) * hy * wy; \
        __global const float* wo = w + ((long) o * cxg + i0) * rs; \
        for (int ry = 0; ry < r; ry++) { \
            const int ty = iy + ph - ry * dh; \
            if (ty < 0 || ty % sh != 0 || ty / sh >= hy) continue; \
            const int oy = ty / sh; \
            for (int sx = 0; sx < s; sx++) { \
                const int tx = ix + pw - sx * dw; \
                if (tx < 0 || tx % sw != 0 || tx / sw >= wy) continue; \
                const float yv = yc[oy * wy + tx / sw]; \
                const int tap = ry * s + sx; \
                for (int t = 0; t < T; t++) acc[t] = fma(yv, wo[(long) min(t, live - 1) * rs + tap], acc[t]); \
            } \
        } \
    } \
    const int c0 = grp * cxg + i0; \
    for (int t = 0; t < live; t++) \
        x[(b * cx + c0 + t) * plane + pos] = acc[t] + (hasBias ? bias[c0 + t] : 0.0f); \
}

#define CONV_WEIGHTS(T) \
__kernel void conv_weights_##T(__global const float* x, __global const float* y, __global float* w, GEOM) { \
    const int cxg = cx / groups, cyg = cy / groups, rs = r * s, e = get_global_id(0); \
    if (e >= cxg * rs) return; \
    const int blocks = (cyg + T - 1) / T; \
    const int grp = get_global_id(1) / blocks, o0 = grp * cyg + (get_global_id(1) % blocks) * T; \
    const int live = min(T, (grp + 1) * cyg - o0); \
    const int i = e / rs, ry = (e % rs) / s, sx = e % s, yplane = hy * wy; \
    float acc[T]; \
    for (int t = 0; t < T; t++) acc[t] = 0.0f; \
    for (int b = 0; b < n; b++) { \
        __global const float* xc = x + ((long) b * cx + (long) grp * cxg + i) * hx * wx; \
        __global const float* yb = y + ((long) b * cy + o0) * yplane; \
        for (int oy = 0; oy < hy; oy++) { \
            const int iy = oy * sh - ph + ry * dh; \
            if (iy < 0 || iy >= hx) continue; \
            for (int ox = 0; ox < wy; ox++) { \
                const int ix = ox * sw - pw + sx * dw; \
                if (ix < 0 || ix >= wx) continue; \
                const float xv = xc[iy * wx + ix]; \
                const int at = oy * wy + ox; \
                for (int t = 0; t < T; t++) acc[t] = fma(xv, yb[(long) min(t, live - 1) * yplane + at], acc[t]); \
            } \
        } \
    } \
    for (int t = 0; t < live; t++) w[((long) (o0 + t) * cxg + i) * rs + e % rs] = acc[t]; \
}

CONV_FWD(1)
CONV_FWD(4)
CONV_FWD(8)
CONV_DATA(1)
CONV_DATA(4)
CONV_DATA(8)
CONV_WEIGHTS(1)
CONV_WEIGHTS(4)
CONV_WEIGHTS(8)

__kernel void conv_bias_grad(__global const float* dy, __global float* db, int n, int k, int plane) {
    const int ch = get_global_id(0);
    if (ch >= k) return;
    float sum = 0.0f;
    for (int b = 0; b < n; b++) {
        __global const float* p = dy + ((long) b * k + ch) * plane;
        for (int e = 0; e < plane; e++) sum += p[e];
    }
    db[ch] = sum;
}
