// Pixel shuffle and unshuffle, f32 NCHW, a pure permutation; one work-item per element.
// Both directions are written against the small-spatial side: cs channels of hs x ws; the big side has
// cs/f^2 channels of hs*f x ws*f, and small[b][ch*f*f + i*f + j][y][x] <-> big[b][ch][y*f + i][x*f + j].
// Shuffle reads small and writes big; unshuffle reads big and writes small.

__kernel void pixel_shuffle(__global const float* src, __global float* dst, long count, int cs, int hs, int ws, int f,
                            int unshuffle) {
    const long small = get_global_id(0);
    if (small >= count) return;
    const int x = small % ws, y = (small / ws) % hs;
    const long bc = small / ((long) hs * ws);
    const int cc = bc % cs;
    const long b = bc / cs;
    const int ch = cc / (f * f), i = (cc / f) % f, j = cc % f;
    const int cb = cs / (f * f), hb = hs * f, wb = ws * f;
    const long big = ((b * cb + ch) * hb + ((long) y * f + i)) * wb + ((long) x * f + j);
    if (unshuffle) dst[small] = src[big];
    else dst[big] = src[small];
}
