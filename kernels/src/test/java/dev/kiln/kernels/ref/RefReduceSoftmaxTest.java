package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Reductions against loops over a 3D shape's coordinates; softmax by its defining properties and finite differences. */
class RefReduceSoftmaxTest {
    private static final Shape SHAPE = Shape.of(3, 7, 5);

    @Test void reduceEachAxisMatchesCoordinateLoops() {
        Random r = seeded(31);
        float[] x = rand(r, (int) SHAPE.count(), -3, 3);
        int[] dims = SHAPE.dims();
        for (int axis = 0; axis < 3; axis++) {
            for (ReduceOp op : ReduceOp.values()) {
                ReduceDesc d = ReduceDesc.along(op, SHAPE, axis);
                RefCase.Out out = run(d, Arg.SRC, x);
                int len = dims[axis];
                double[] want = new double[(int) SHAPE.count() / len];
                int[] wantArg = new int[want.length];
                for (int i = 0; i < dims[0]; i++)
                    for (int j = 0; j < dims[1]; j++)
                        for (int k = 0; k < dims[2]; k++) {
                            int[] c = {i, j, k};
                            if (c[axis] != 0) continue;
                            double sum = 0, best = Double.NEGATIVE_INFINITY;
                            int arg = -1;
                            for (int l = 0; l < len; l++) {
                                c[axis] = l;
                                double v = x[(c[0] * dims[1] + c[1]) * dims[2] + c[2]];
                                sum += v;
                                if (v > best) { best = v; arg = l; }
                            }
                            c[axis] = 0;
                            int o = outIndex(c, dims, axis);
                            want[o] = switch (op) { case SUM -> sum; case MEAN -> sum / len; case MAX -> best; case ARGMAX -> arg; };
                            wantArg[o] = arg;
                        }
                if (op == ReduceOp.ARGMAX) assertArrayEquals(wantArg, out.i(Arg.DST), "argmax axis " + axis);
                else close(want, out.f(Arg.DST), 1e-6, op.lower() + " axis " + axis);
            }
        }
    }

    /** Row-major index in the shape with {@code axis} removed. */
    private static int outIndex(int[] c, int[] dims, int axis) {
        int idx = 0;
        for (int i = 0; i < 3; i++) if (i != axis) idx = idx * dims[i] + c[i];
        return idx;
    }

    @Test void argmaxTakesTheFirstOfTiedMaxima() {
        float[] x = {1, 4, 2, 4, 4, -3, -2, -1, -5, -1};
        int[] idx = run(new ReduceDesc(ReduceOp.ARGMAX, 2, 5, 1), Arg.SRC, x).i(Arg.DST);
        assertArrayEquals(new int[] {1, 2}, idx);
        float[] max = run(new ReduceDesc(ReduceOp.MAX, 2, 5, 1), Arg.SRC, x).f(Arg.DST);
        assertArrayEquals(new float[] {4, -1}, max);
    }

    @Test void softmaxRowsSumToOneAndLogSoftmaxIsItsLog() {
        Random r = seeded(32);
        for (int[] s : new int[][] {{5, 13, 1}, {2, 9, 3}, {1, 1, 4}}) {
            float[] x = rand(r, s[0] * s[1] * s[2], -6, 6);
            float[] y = run(new SoftmaxDesc(s[0], s[1], s[2], false, Pass.FORWARD), Arg.SRC, x).f(Arg.DST);
            float[] ly = run(new SoftmaxDesc(s[0], s[1], s[2], true, Pass.FORWARD), Arg.SRC, x).f(Arg.DST);
            for (int o = 0; o < s[0]; o++)
                for (int i = 0; i < s[2]; i++) {
                    double sum = 0;
                    for (int l = 0; l < s[1]; l++) sum += y[(o * s[1] + l) * s[2] + i];
                    assertEquals(1.0, sum, 1e-5, "row sum");
                }
            double[] logOfSoftmax = new double[y.length];
            for (int i = 0; i < y.length; i++) logOfSoftmax[i] = Math.log(y[i]);
            close(logOfSoftmax, ly, 1e-5, "log_softmax = log(softmax)");
            close(softmax(x, s[0], s[1], s[2]), y, 1e-6, "softmax vs definition");
        }
    }

    @Test void softmaxIsStableForLargeInputs() {
        float[] x = {1000, 1001, 999, -1000};
        float[] y = run(SoftmaxDesc.rows(1, 4, false), Arg.SRC, x).f(Arg.DST);
        float[] ly = run(SoftmaxDesc.rows(1, 4, true), Arg.SRC, x).f(Arg.DST);
        float[] shifted = run(SoftmaxDesc.rows(1, 4, false), Arg.SRC, new float[] {0, 1, -1, -2000}).f(Arg.DST);
        close(shifted, y, 1e-6, "shift invariance");
        nonTrivial(y, "softmax of large inputs");
        nonTrivial(ly, "log_softmax of large inputs");
        assertEquals(0, y[3]);
    }

    @Test void backwardMatchesFiniteDifferences() {
        Random r = seeded(33);
        int outer = 3, len = 6, inner = 2, n = outer * len * inner;
        double h = 1e-5;
        for (boolean log : new boolean[] {false, true}) {
            float[] x = rand(r, n, -2, 2), dy = rand(r, n);
            float[] y = run(new SoftmaxDesc(outer, len, inner, log, Pass.FORWARD), Arg.SRC, x).f(Arg.DST);
            float[] dx = run(new SoftmaxDesc(outer, len, inner, log, Pass.BACKWARD), Arg.DST, y, Arg.DIFF_DST, dy).f(Arg.DIFF_SRC);
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                double[] yp = forwardAt(x, i, h, outer, len, inner, log), ym = forwardAt(x, i, -h, outer, len, inner, log);
                double lp = 0, lm = 0;
                for (int j = 0; j < n; j++) { lp += dy[j] * yp[j]; lm += dy[j] * ym[j]; }
                want[i] = (lp - lm) / (2 * h);
            }
            close(want, dx, 1e-4, (log ? "log_softmax" : "softmax") + ".bwd");
            nonTrivial(dx, "softmax.bwd");
        }
    }

    private static double[] forwardAt(float[] x, int at, double h, int outer, int len, int inner, boolean log) {
        double[] xs = new double[x.length];
        for (int i = 0; i < x.length; i++) xs[i] = x[i] + (i == at ? h : 0);
        double[] y = softmax(xs, outer, len, inner);
        if (log) for (int i = 0; i < y.length; i++) y[i] = Math.log(y[i]);
        return y;
    }

    private static double[] softmax(float[] x, int outer, int len, int inner) {
        double[] xs = new double[x.length];
        for (int i = 0; i < x.length; i++) xs[i] = x[i];
        return softmax(xs, outer, len, inner);
    }

    /** The definition, unshifted (inputs here are small): exp(x) / sum exp(x). */
    private static double[] softmax(double[] x, int outer, int len, int inner) {
        double[] y = new double[x.length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++) {
                double sum = 0;
                for (int l = 0; l < len; l++) sum += Math.exp(x[(o * len + l) * inner + i]);
                for (int l = 0; l < len; l++) y[(o * len + l) * inner + i] = Math.exp(x[(o * len + l) * inner + i]) / sum;
            }
        return y;
    }
}
