package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.PixelShuffleDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference pixel shuffle: a pure permutation, written as the definition. Shuffle (n x c x h x w to
 * n x c/f^2 x hf x wf): dst[b][ch][y*f+i][x*f+j] = src[b][ch*f*f + i*f + j][y][x]. Unshuffle (n x c x h x w to
 * n x c f^2 x h/f x w/f) is its inverse: dst[b][ch*f*f + i*f + j][y][x] = src[b][ch][y*f+i][x*f+j].
 */
final class RefPixelShuffle {
    private RefPixelShuffle() {}

    static void run(PixelShuffleDesc d, Args args) {
        DType t = d.dtype();
        MemorySegment src = args.host(Arg.SRC), dst = args.host(Arg.DST);
        int f = d.factor();
        // Both directions in terms of the small-spatial side: cs channels of hs x ws; big side is (cs/f^2) x hs*f x ws*f.
        int cs = d.unshuffle() ? d.c() * f * f : d.c(), hs = d.unshuffle() ? d.h() / f : d.h(), ws = d.unshuffle() ? d.w() / f : d.w();
        int cb = cs / (f * f), hb = hs * f, wb = ws * f;
        for (int b = 0; b < d.n(); b++)
            for (int ch = 0; ch < cb; ch++)
                for (int i = 0; i < f; i++)
                    for (int j = 0; j < f; j++)
                        for (int y = 0; y < hs; y++)
                            for (int x = 0; x < ws; x++) {
                                long small = (((long) b * cs + (long) ch * f * f + (long) i * f + j) * hs + y) * ws + x;
                                long big = (((long) b * cb + ch) * hb + ((long) y * f + i)) * wb + ((long) x * f + j);
                                if (d.unshuffle()) Mem.f(t, dst, small, Mem.f(t, src, big));
                                else Mem.f(t, dst, big, Mem.f(t, src, small));
                            }
    }
}
