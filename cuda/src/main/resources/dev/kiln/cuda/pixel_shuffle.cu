// Pixel shuffle and unshuffle, f32 NCHW, a pure permutation (host side: CudaPixelShuffle.java); one thread
// per element, grid-stride. Both directions are written against the small-spatial side: cs channels of
// hs x ws; the big side has cs/f^2 channels of hs*f x ws*f, and
//   small[b][ch*f*f + i*f + j][y][x] <-> big[b][ch][y*f + i][x*f + j].
// Shuffle reads small and writes big; unshuffle reads big and writes small.

extern "C" __global__ void pixel_shuffle(const float* __restrict__ src, float* __restrict__ dst, long long count,
                                         int cs, int hs, int ws, int f, int unshuffle) {
    const int cb = cs / (f * f), hb = hs * f, wb = ws * f;
    for (long long small = (long long)blockIdx.x * blockDim.x + threadIdx.x; small < count;
         small += (long long)gridDim.x * blockDim.x) {
        const int x = (int)(small % ws), y = (int)((small / ws) % hs);
        const long long bc = small / ((long long)hs * ws);
        const int cc = (int)(bc % cs);
        const long long b = bc / cs;
        const int ch = cc / (f * f), i = (cc / f) % f, j = cc % f;
        const long long big = ((b * cb + ch) * hb + ((long long)y * f + i)) * wb + ((long long)x * f + j);
        if (unshuffle) dst[small] = src[big];
        else dst[big] = src[small];
    }
}
