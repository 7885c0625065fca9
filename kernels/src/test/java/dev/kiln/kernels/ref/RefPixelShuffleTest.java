package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Pixel shuffle: a hand-worked example, shuffle-then-unshuffle (and back) as the identity, and the adjoint. */
class RefPixelShuffleTest {
    /** 1x4x2x2 with values ch*4 + y*2 + x, factor 2: the 1x1x4x4 result interleaves the four channels. */
    @Test void handWorked1x4x2x2() {
        float[] src = new float[16];
        for (int i = 0; i < 16; i++) src[i] = i;
        float[] dst = run(new PixelShuffleDesc(1, 4, 2, 2, 2, false), Arg.SRC, src).f(Arg.DST);
        assertArrayEquals(new float[] {0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15}, dst);
        assertArrayEquals(src, run(new PixelShuffleDesc(1, 1, 4, 4, 2, true), Arg.SRC, dst).f(Arg.DST));
    }

    @Test void shuffleThenUnshuffleIsIdentity() {
        Random r = seeded(61);
        int[][] cases = {{2, 18, 3, 5, 3}, {1, 8, 7, 1, 2}, {3, 5, 2, 3, 1}};
        for (int[] c : cases) {
            int n = c[0], ch = c[1], h = c[2], w = c[3], f = c[4];
            float[] x = rand(r, n * ch * h * w);
            float[] y = run(new PixelShuffleDesc(n, ch, h, w, f, false), Arg.SRC, x).f(Arg.DST);
            assertArrayEquals(x, run(new PixelShuffleDesc(n, ch / (f * f), h * f, w * f, f, true), Arg.SRC, y).f(Arg.DST));
            // The other way round, starting from the large-spatial side.
            float[] z = rand(r, x.length);
            float[] u = run(new PixelShuffleDesc(n, ch / (f * f), h * f, w * f, f, true), Arg.SRC, z).f(Arg.DST);
            assertArrayEquals(z, run(new PixelShuffleDesc(n, ch, h, w, f, false), Arg.SRC, u).f(Arg.DST));
            // A permutation is its own adjoint's inverse: <shuffle(x), z> = <x, unshuffle(z)>.
            closeScalar(dot(y, z), dot(x, u), 1e-6, "adjoint");
            if (f > 1) nonTrivial(y, "shuffle");
        }
    }

    /** Checks every element of one case against the Javadoc's formula. */
    @Test void matchesDefinition() {
        Random r = seeded(62);
        int n = 2, c = 8, h = 3, w = 5, f = 2, co = c / (f * f);
        float[] x = rand(r, n * c * h * w);
        float[] y = run(new PixelShuffleDesc(n, c, h, w, f, false), Arg.SRC, x).f(Arg.DST);
        float[] want = new float[y.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < co; ch++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++)
                        for (int i = 0; i < f; i++)
                            for (int j = 0; j < f; j++)
                                want[((b * co + ch) * h * f + yy * f + i) * w * f + xx * f + j] = x[((b * c + ch * f * f + i * f + j) * h + yy) * w + xx];
        assertArrayEquals(want, y);
    }
}
