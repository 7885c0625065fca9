package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pooling: forward against window loops written here, hand-worked padding and tie cases, and each
 * backward pass as the adjoint of its (for max: index-fixed, hence linear) forward.
 */
class RefPoolTest {
    private static List<PoolDesc> cases(PoolKind kind) {
        return List.of(
                PoolDesc.of(kind, 2, 3, 7, 9, 3, 2, 1),
                new PoolDesc(kind, 1, 2, 8, 5, 2, 3, 2, 1, 1, 1, false, Pass.FORWARD),
                new PoolDesc(kind, 1, 2, 8, 5, 2, 3, 2, 1, 1, 1, true, Pass.FORWARD),
                new PoolDesc(kind, 3, 1, 1, 13, 1, 4, 1, 3, 0, 2, false, Pass.FORWARD));   // 1D
    }

    @Test void forwardMatchesWindowLoops() {
        Random r = seeded(51);
        for (PoolKind kind : PoolKind.values())
            for (PoolDesc d : cases(kind)) {
                float[] x = rand(r, (int) d.srcCount(), -5, -1);   // all negative: padding (zero) must never win a max
                RefCase.Out o = run(d, Arg.SRC, x);
                int p = d.p(), q = d.q();
                double[] want = new double[(int) d.dstCount()];
                int[] wantIdx = new int[want.length];
                for (int pl = 0; pl < d.n() * d.c(); pl++)
                    for (int oy = 0; oy < p; oy++)
                        for (int ox = 0; ox < q; ox++) {
                            double best = Double.NEGATIVE_INFINITY, sum = 0;
                            int arg = -1, inside = 0;
                            for (int ky = 0; ky < d.kh(); ky++)
                                for (int kx = 0; kx < d.kw(); kx++) {
                                    int y = oy * d.strideH() - d.padH() + ky, xx = ox * d.strideW() - d.padW() + kx;
                                    if (y < 0 || y >= d.h() || xx < 0 || xx >= d.w()) continue;
                                    double v = x[pl * d.h() * d.w() + y * d.w() + xx];
                                    inside++;
                                    sum += v;
                                    if (v > best) { best = v; arg = y * d.w() + xx; }
                                }
                            int out = (pl * p + oy) * q + ox;
                            want[out] = kind == PoolKind.MAX ? best : sum / (d.countPadding() ? d.kh() * d.kw() : inside);
                            wantIdx[out] = arg;
                        }
                close(want, o.f(Arg.DST), 1e-6, d.opName() + " " + d.shape());
                if (kind == PoolKind.MAX) assertArrayEquals(wantIdx, o.i(Arg.INDICES), d.shape());
                nonTrivial(o.f(Arg.DST), d.shape());
            }
    }

    /** 2x2 input, 2x2 window, stride 1, pad 1: the corner window holds one element. */
    @Test void handWorkedPaddingAndTies() {
        float[] x = {-4, -2, -3, -1};
        PoolDesc avg = new PoolDesc(PoolKind.AVG, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, false, Pass.FORWARD);
        PoolDesc avgPad = new PoolDesc(PoolKind.AVG, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, true, Pass.FORWARD);
        PoolDesc max = new PoolDesc(PoolKind.MAX, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, false, Pass.FORWARD);
        close(new float[] {-4, -3, -2, -3.5f, -2.5f, -1.5f, -3, -2, -1}, run(avg, Arg.SRC, x).f(Arg.DST), 1e-7, "avg");
        close(new float[] {-1, -1.5f, -0.5f, -1.75f, -2.5f, -0.75f, -0.75f, -1, -0.25f}, run(avgPad, Arg.SRC, x).f(Arg.DST), 1e-7, "avg pad");
        RefCase.Out m = run(max, Arg.SRC, x);
        close(new float[] {-4, -2, -2, -3, -1, -1, -3, -1, -1}, m.f(Arg.DST), 0, "max never picks padding");
        assertArrayEquals(new int[] {0, 1, 1, 2, 3, 3, 2, 3, 3}, m.i(Arg.INDICES));
        RefCase.Out tie = run(PoolDesc.of(PoolKind.MAX, 1, 1, 2, 3, 2, 1, 0), Arg.SRC, new float[] {7, 7, 1, 7, 7, 7});
        assertArrayEquals(new int[] {0, 1}, tie.i(Arg.INDICES), "first maximum in row-major window order");
        assertEquals(7, tie.f(Arg.DST)[1]);
    }

    /** Max forward without INDICES: the same maxima, no INDICES operand; the flag only ever drops from max forward. */
    @Test void maxWithoutIndicesWritesTheSameMaxima() {
        Random r = seeded(53);
        for (PoolDesc d : cases(PoolKind.MAX)) {
            float[] x = rand(r, (int) d.srcCount());
            PoolDesc bare = d.withoutIndices();
            RefCase.Out o = run(bare, Arg.SRC, x);
            assertArrayEquals(run(d, Arg.SRC, x).f(Arg.DST), o.f(Arg.DST), bare.shape());
            assertEquals(null, bare.spec(Arg.INDICES), bare.shape());
            assertEquals(true, bare.withPass(Pass.BACKWARD).indices(), "max backward reads the indices");
        }
        assertEquals(false, PoolDesc.of(PoolKind.AVG, 1, 1, 4, 4, 2, 2, 0).indices(), "average pooling has none");
        assertEquals(PoolDesc.of(PoolKind.AVG, 1, 1, 4, 4, 2, 2, 0), PoolDesc.of(PoolKind.AVG, 1, 1, 4, 4, 2, 2, 0).withoutIndices());
    }

    @Test void backwardIsAdjointOfForward() {
        Random r = seeded(52);
        for (PoolKind kind : PoolKind.values())
            for (PoolDesc d : cases(kind)) {
                float[] x = rand(r, (int) d.srcCount()), dy = rand(r, (int) d.dstCount());
                RefCase.Out fwd = run(d, Arg.SRC, x);
                PoolDesc b = d.withPass(Pass.BACKWARD);
                float[] dx = kind == PoolKind.MAX
                        ? run(b, Arg.DIFF_DST, dy, Arg.INDICES, fwd.i(Arg.INDICES)).f(Arg.DIFF_SRC)
                        : run(b, Arg.DIFF_DST, dy).f(Arg.DIFF_SRC);
                closeScalar(dot(fwd.f(Arg.DST), dy), dot(x, dx), 1e-5, b.opName() + " " + d.shape());
                nonTrivial(dx, b.opName());
                // A second, different probe rules out an accidental match.
                float[] x2 = rand(r, x.length);
                if (kind == PoolKind.AVG) closeScalar(dot(run(d, Arg.SRC, x2).f(Arg.DST), dy), dot(x2, dx), 1e-5, "avg adjoint, second x");
            }
    }
}
