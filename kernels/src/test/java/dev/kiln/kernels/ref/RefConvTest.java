package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The reference convolution against an independent im2col + matrix product (forward), the adjoint
 * identity {@code <conv(x), dy> = <x, bwdData(dy)> = <w, bwdWeights(x, dy)>} (backward passes), and the
 * definition of a transposed convolution as a regular convolution's backward-data.
 */
class RefConvTest {
    private static final ConvPass F = ConvPass.FORWARD;

    /** Regular convolutions of awkward shapes: stride, padding, dilation, groups, depthwise, 1D, 1x1. */
    private static List<ConvDesc> regular() {
        return List.of(
                new ConvDesc(2, 3, 7, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, F, false),
                new ConvDesc(1, 2, 9, 11, 3, 3, 3, 2, 3, 0, 2, 2, 1, 1, false, 0, 0, F, true),
                new ConvDesc(2, 4, 8, 7, 6, 3, 2, 2, 1, 1, 0, 2, 2, 2, false, 0, 0, F, true),
                new ConvDesc(1, 3, 6, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, false, 0, 0, F, false),   // depthwise
                ConvDesc.conv1d(2, 3, 13, 5, 3, 2, 1, 2, 1).withBias(true),
                new ConvDesc(3, 5, 4, 3, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, F, false));  // 1x1
    }

    /** Transposed convolutions; output padding below the stride so the regular twin maps back to h x w. */
    private static List<ConvDesc> transposed() {
        return List.of(
                new ConvDesc(2, 3, 4, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, true, 1, 0, F, false),
                new ConvDesc(1, 4, 5, 3, 6, 2, 3, 3, 1, 0, 1, 1, 2, 2, true, 2, 0, F, true),
                new ConvDesc(2, 2, 1, 7, 3, 1, 4, 1, 2, 0, 1, 1, 1, 1, true, 0, 1, F, false));   // 1D
    }

    @Test void forwardMatchesIm2colTimesWeights() {
        Random r = seeded(11);
        for (ConvDesc d : regular()) {
            float[] x = rand(r, (int) d.srcCount()), w = rand(r, (int) d.weightCount()), b = rand(r, d.k());
            float[] y = d.bias() ? run(d, Arg.SRC, x, Arg.WEIGHTS, w, Arg.BIAS, b).f(Arg.DST) : run(d, Arg.SRC, x, Arg.WEIGHTS, w).f(Arg.DST);
            close(im2colConv(d, x, w, d.bias() ? b : null), y, 1e-5, "conv " + d.shape());
            nonTrivial(y, d.shape());
        }
    }

    @Test void backwardPassesAreAdjointsOfForward() {
        Random r = seeded(12);
        for (ConvDesc d0 : concat(regular(), transposed())) {
            ConvDesc d = d0.withBias(false);
            float[] x = rand(r, (int) d.srcCount()), w = rand(r, (int) d.weightCount()), dy = rand(r, (int) d.dstCount());
            float[] y = run(d, Arg.SRC, x, Arg.WEIGHTS, w).f(Arg.DST);
            float[] dx = run(d.withPass(ConvPass.BACKWARD_DATA), Arg.DIFF_DST, dy, Arg.WEIGHTS, w).f(Arg.DIFF_SRC);
            float[] dw = run(d.withPass(ConvPass.BACKWARD_WEIGHTS), Arg.SRC, x, Arg.DIFF_DST, dy).f(Arg.DIFF_WEIGHTS);
            double ref = dot(y, dy);
            closeScalar(ref, dot(x, dx), 1e-5, "<conv(x),dy> vs <x,dx> " + d.opName() + " " + d.shape());
            closeScalar(ref, dot(w, dw), 1e-5, "<conv(x),dy> vs <w,dw> " + d.opName() + " " + d.shape());
            nonTrivial(dx, d.shape());
            nonTrivial(dw, d.shape());
        }
    }

    @Test void biasGradientSumsDiffDstPerChannel() {
        Random r = seeded(13);
        for (ConvDesc d0 : concat(regular(), transposed())) {
            ConvDesc d = d0.withBias(true).withPass(ConvPass.BACKWARD_WEIGHTS);
            float[] x = rand(r, (int) d.srcCount()), dy = rand(r, (int) d.dstCount());
            float[] db = run(d, Arg.SRC, x, Arg.DIFF_DST, dy).f(Arg.DIFF_BIAS);
            double[] want = new double[d.k()];
            int plane = d.p() * d.q();
            for (int i = 0; i < dy.length; i++) want[(i / plane) % d.k()] += dy[i];
            close(want, db, 1e-5, "dbias " + d.shape());
            float[] b = rand(r, d.k()), w = rand(r, (int) d.weightCount());
            ConvDesc fwd = d.withPass(F);
            float[] with = run(fwd, Arg.SRC, x, Arg.WEIGHTS, w, Arg.BIAS, b).f(Arg.DST);
            float[] without = run(fwd.withBias(false), Arg.SRC, x, Arg.WEIGHTS, w).f(Arg.DST);
            double[] shifted = new double[with.length];
            for (int i = 0; i < with.length; i++) shifted[i] = (double) without[i] + b[(i / plane) % d.k()];
            close(shifted, with, 1e-5, "bias added " + d.shape());
        }
    }

    @Test void transposedIsRegularBackwardData() {
        Random r = seeded(14);
        for (ConvDesc t : transposed()) {
            t = t.withBias(false);
            ConvDesc reg = new ConvDesc(t.n(), t.k(), t.p(), t.q(), t.c(), t.r(), t.s(), t.strideH(), t.strideW(), t.padH(), t.padW(),
                    t.dilationH(), t.dilationW(), t.groups(), false, 0, 0, F, false);
            assertEquals(t.h(), reg.p(), "twin height");
            assertEquals(t.w(), reg.q(), "twin width");
            assertEquals(t.weightCount(), reg.weightCount(), "twin weights");
            float[] x = rand(r, (int) t.srcCount()), w = rand(r, (int) t.weightCount()), dy = rand(r, (int) t.dstCount());
            float[] y = run(t, Arg.SRC, x, Arg.WEIGHTS, w).f(Arg.DST);
            close(run(reg.withPass(ConvPass.BACKWARD_DATA), Arg.DIFF_DST, x, Arg.WEIGHTS, w).f(Arg.DIFF_SRC), y, 1e-6, "fwd " + t.shape());
            close(run(reg, Arg.SRC, dy, Arg.WEIGHTS, w).f(Arg.DST),
                    run(t.withPass(ConvPass.BACKWARD_DATA), Arg.DIFF_DST, dy, Arg.WEIGHTS, w).f(Arg.DIFF_SRC), 1e-6, "bwd-data " + t.shape());
            close(run(reg.withPass(ConvPass.BACKWARD_WEIGHTS), Arg.SRC, dy, Arg.DIFF_DST, x).f(Arg.DIFF_WEIGHTS),
                    run(t.withPass(ConvPass.BACKWARD_WEIGHTS), Arg.SRC, x, Arg.DIFF_DST, dy).f(Arg.DIFF_WEIGHTS), 1e-6, "bwd-weights " + t.shape());
            nonTrivial(y, t.shape());
        }
    }

    /** A hand-worked 1D case: x = [1,2,3,4], w = [1,0,-1], pad 1: y[i] = x[i-1] - x[i+1]. */
    @Test void handWorked1d() {
        ConvDesc d = ConvDesc.conv1d(1, 1, 4, 1, 3, 1, 1, 1, 1);
        float[] y = run(d, Arg.SRC, new float[] {1, 2, 3, 4}, Arg.WEIGHTS, new float[] {1, 0, -1}).f(Arg.DST);
        close(new double[] {-2, -2, -2, 3}, y, 0, "1d");
    }

    /** Forward by lowering each group to a matrix product: W_g (k/groups x cg*r*s) times im2col (cg*r*s x p*q). */
    static double[] im2colConv(ConvDesc d, float[] x, float[] w, float[] bias) {
        int cg = d.c() / d.groups(), kg = d.k() / d.groups(), p = d.p(), q = d.q(), rows = cg * d.r() * d.s();
        double[] out = new double[(int) d.dstCount()];
        for (int b = 0; b < d.n(); b++)
            for (int g = 0; g < d.groups(); g++) {
                double[][] col = new double[rows][p * q];
                for (int ci = 0; ci < cg; ci++)
                    for (int ry = 0; ry < d.r(); ry++)
                        for (int sx = 0; sx < d.s(); sx++)
                            for (int oy = 0; oy < p; oy++)
                                for (int ox = 0; ox < q; ox++) {
                                    int iy = oy * d.strideH() - d.padH() + ry * d.dilationH();
                                    int ix = ox * d.strideW() - d.padW() + sx * d.dilationW();
                                    boolean in = iy >= 0 && iy < d.h() && ix >= 0 && ix < d.w();
                                    col[(ci * d.r() + ry) * d.s() + sx][oy * q + ox] =
                                            in ? x[((b * d.c() + g * cg + ci) * d.h() + iy) * d.w() + ix] : 0;
                                }
                for (int ko = 0; ko < kg; ko++) {
                    int kk = g * kg + ko;
                    for (int j = 0; j < p * q; j++) {
                        double s = bias == null ? 0 : bias[kk];
                        for (int row = 0; row < rows; row++) s += (double) w[kk * rows + row] * col[row][j];
                        out[(b * d.k() + kk) * p * q + j] = s;
                    }
                }
            }
        return out;
    }

    private static List<ConvDesc> concat(List<ConvDesc> a, List<ConvDesc> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }
}
