// Explicit im2col / col2im for the GEMM path of convolution (host side: CudaConvGemm.java), f32, NCHW, in
// the X / Y / W terms of conv.cu (GEOM_PARAMS in the same order). For a chunk of `images` images starting
// at element xOffset of X, col[b][kk][e] (b < images, kk < cx*r*s, e < hy*wy) pairs
//   X[b][i][oy*sh - ph + ry*dh][ox*sw - pw + sx*dw] (zero outside)  with  kk = (i*r + ry)*s + sx, e = oy*wy + ox,
// so each group's rows (i in one group) are contiguous and the host can run, per group,
//   fwd:     Y[b] = W * col[b]               (im2col, GEMM)
//   data:    col[b] = W^T * Y[b], X = col2im  (GEMM, then col2im gathers each X element's taps)
//   weights: dW += Y[b] * col[b]^T            (im2col, GEMMs image after image)
// A thread per col element (e fastest: coalesced writes) or per X element (col2im gathers, no scatter, no
// atomics); grid-stride loops over 64-bit counts. conv_bias_add adds the bias of a forward after its GEMMs.
// Nothing is atomic, so every result is the same on every run.

#define GEOM_PARAMS int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups, int r, int s, \
                    int sh, int sw, int ph, int pw, int dh, int dw
#define GRID_STRIDE(var, count)                                                                        \
    for (long long var = (long long)blockIdx.x * blockDim.x + threadIdx.x; var < (count);               \
         var += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void im2col(const float* __restrict__ x, long long xOffset, float* __restrict__ col,
                                  int images, GEOM_PARAMS) {
    const int plane = hy * wy, rs = r * s;
    const long long rows = (long long)cx * rs, total = (long long)images * rows * plane;
    GRID_STRIDE(at, total) {
        const int e = (int)(at % plane);
        const long long row = at / plane;
        const int kk = (int)(row % rows), b = (int)(row / rows);
        const int i = kk / rs, ry = (kk % rs) / s, sx = kk % s;
        const int iy = (e / wy) * sh - ph + ry * dh, ix = (e % wy) * sw - pw + sx * dw;
        float v = 0.f;
        if (iy >= 0 && iy < hx && ix >= 0 && ix < wx)
            v = x[xOffset + (((long long)b * cx + i) * hx + iy) * wx + ix];
        col[at] = v;
    }
}

// X[b][i][iy][ix] = sum of col[b][(i*r + ry)*s + sx][e] over the taps whose Y position e reads (iy, ix),
// plus bias[i] when bias is not null; summed in the order (ry, sx).
extern "C" __global__ void col2im(const float* __restrict__ col, float* __restrict__ x, long long xOffset,
                                  const float* __restrict__ bias, int images, GEOM_PARAMS) {
    const int xplane = hx * wx, yplane = hy * wy;
    const long long total = (long long)images * cx * xplane;
    GRID_STRIDE(at, total) {
        const int pos = (int)(at % xplane);
        const long long bi = at / xplane;   // b * cx + i
        const int i = (int)(bi % cx), iy = pos / wx, ix = pos % wx;
        const float* cb = col + bi * r * s * yplane;
        float sum = 0.f;
        for (int ry = 0; ry < r; ry++) {
            const int ty = iy + ph - ry * dh;
            if (ty < 0 || ty % sh != 0 || ty / sh >= hy) continue;
            for (int sx = 0; sx < s; sx++) {
                const int tx = ix + pw - sx * dw;
                if (tx < 0 || tx % sw != 0 || tx / sw >= wy) continue;
                sum += cb[(long long)(ry * s + sx) * yplane + (ty / sh) * wy + tx / sw];
            }
        }
        x[xOffset + at] = bias ? sum + bias[i] : sum;
    }
}

// y[at] += bias[(at / plane) % channels] over count elements (a forward's output, n x channels x plane).
extern "C" __global__ void conv_bias_add(float* __restrict__ y, const float* __restrict__ bias, long long count,
                                         int channels, int plane) {
    GRID_STRIDE(at, count) y[at] += bias[(int)((at / plane) % channels)];
}
