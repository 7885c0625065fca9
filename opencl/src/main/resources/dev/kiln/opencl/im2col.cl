// Explicit im2col / col2im for the GEMM path of convolution (OpenClConvGemm), f32, NCHW, one group, in
// the X/Y/W terms of conv.cl. col[b][kk][e] pairs X[b][i][oy sh - ph + ry dh][ox sw - pw + sx dw] with
// Y position e = oy wy + ox and tap kk = (i r + ry) s + sx, so that
//   fwd:  Y[b] (cy x hy*wy) = W (cy x cx*r*s) * col[b]            (im2col, then one batched GEMM)
//   data: col[b] = W^T * Y[b], X[b] = the sum of col[b] over the taps that read each X element
//                                                                 (batched GEMM, then col2im)
//   weights: dW (cy x cx*r*s) = sum over b of Y[b] col[b]^T, as one GEMM with depth n*hy*wy over
//            Yt (cy x n*hy*wy, Y with channels first) and colT ((b, e) x kk)   (no batch sum, no atomics)
// im2col writes col[b][kk][e] at b strideB + kk strideK + e strideE, so one kernel fills both layouts:
// one work-item per col element, dimension 0 over e, 1 over kk, 2 over b.
// col2im gathers (one work-item per X element, no atomics), so it is deterministic. The host works through
// the batch in chunks of images that fit the scratch; xOffset / srcOffset (elements) select the chunk.

__kernel void im2col(__global const float* x, long xOffset, __global float* col, long strideB, long strideK, long strideE,
                     int cx, int hx, int wx, int hy, int wy, int r, int s, int sh, int sw, int ph, int pw, int dh, int dw) {
    const int plane = hy * wy, e = get_global_id(0);
    if (e >= plane) return;
    const int kk = get_global_id(1), b = get_global_id(2);
    const int sx = kk % s, ry = (kk / s) % r, i = kk / (r * s);
    const int iy = (e / wy) * sh - ph + ry * dh, ix = (e % wy) * sw - pw + sx * dw;
    float v = 0.0f;
    if (iy >= 0 && iy < hx && ix >= 0 && ix < wx) v = x[xOffset + (((long) b * cx + i) * hx + iy) * wx + ix];
    col[b * strideB + kk * strideK + e * strideE] = v;
}

__kernel void col2im(__global const float* col, __global float* x, long xOffset, __global const float* bias, int hasBias,
                     int cx, int hx, int wx, int hy, int wy, int r, int s, int sh, int sw, int ph, int pw, int dh, int dw) {
    const int plane = hx * wx, at = get_global_id(0);
    if (at >= plane) return;
    const int i = get_global_id(1), b = get_global_id(2);
    const int iy = at / wx, ix = at % wx, yplane = hy * wy;
    __global const float* cb = col + ((long) b * cx + i) * r * s * yplane;
    float sum = 0.0f;
    for (int ry = 0; ry < r; ry++) {
        const int ty = iy + ph - ry * dh;
        if (ty < 0 || ty % sh != 0 || ty / sh >= hy) continue;
        for (int sx = 0; sx < s; sx++) {
            const int tx = ix + pw - sx * dw;
            if (tx < 0 || tx % sw != 0 || tx / sw >= wy) continue;
            sum += cb[(long) (ry * s + sx) * yplane + (ty / sh) * wy + tx / sw];
        }
    }
    x[xOffset + ((long) b * cx + i) * plane + at] = sum + (hasBias ? bias[i] : 0.0f);
}

/** y[b][o][e] += bias[o] over count = n * k * plane elements. */
__kernel void bias_add(__global float* y, __global const float* bias, long count, int k, int plane) {
    const long i = get_global_id(0);
    if (i < count) y[i] += bias[(i / plane) % k];
}

/** dst[o][b][e] = src[srcOffset + (b k + o) plane + e] over n x k x plane: the channels-first copy of Y for the weights GEMM. */
__kernel void channels_first(__global const float* src, long srcOffset, __global float* dst, int n, int k, int plane) {
    const long i = get_global_id(0);
    if (i >= (long) n * k * plane) return;
    const int e = i % plane, o = (i / plane) % k;
    const long b = i / ((long) plane * k);
    dst[((long) o * n + b) * plane + e] = src[srcOffset + i];
}
