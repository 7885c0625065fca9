package dev.kiln.nn;

import dev.kiln.kernels.DType;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Central finite differences against autograd in double. Every tensor is f64 and every kernel runs in f64
 * (backends decline f64 for all but GEMM, so dispatch runs the reference, which computes in double), so the
 * step can be small: with step h = 1e-6 the truncation error is about h^2 |f'''| / 6 ~ 1e-13 and the
 * rounding error about 1e-16 |L| / h ~ 1e-10 |L|. An element passes when |analytic - numeric| <=
 * 1e-6 |numeric| + 1e-8 max(1, |L|): relative 1e-6, with an absolute floor just above the rounding noise
 * for gradients near zero. An f32 kernel anywhere in the chain would miss this by orders of magnitude.
 */
final class GradCheck64 {
    static final double STEP = 1e-6, RELATIVE = 1e-6, ABSOLUTE = 1e-8;

    private GradCheck64() {}

    static double[] random(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * r.nextDouble();
        return v;
    }

    /** Magnitudes in [0.2, 1] with random sign: at least 0.2 from the kinks of relu, abs and max. */
    static double[] awayFromZero(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (0.2 + 0.8 * r.nextDouble()) * (r.nextBoolean() ? 1 : -1);
        return v;
    }

    /** sum(y * w) for fixed random weights w: a scalar whose gradient reaches every element of y differently. */
    static Tensor weighted(Tensor y, long seed) {
        return Ops.sum(Ops.mul(y, Tensor.of(y.dtype(), toFloat(random(Math.toIntExact(y.count()), seed, -1, 1)), y.shape())));
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /**
     * Checks d loss / d p for every element of every tensor in {@code params} (f64 leaves, small). The loss
     * is built inside the check, under f64 precision, both for the backward pass and for each evaluation.
     */
    static void check(String what, Supplier<Tensor> loss, List<Tensor> params) { check(what, loss, params, List.of()); }

    /**
     * As above; the tensors in {@code zeroByTheory} have a gradient that is zero by construction (a key bias
     * in attention: it shifts every score of a query equally and softmax ignores that), so they are still
     * compared element by element but not required to have a visible gradient.
     */
    static void check(String what, Supplier<Tensor> loss, List<Tensor> params, List<Tensor> zeroByTheory) {
        for (Tensor p : params)
            if (p.dtype() != DType.F64) fail(what + ": parameter " + Arrays.toString(p.shape()) + " is " + p.dtype().lower() + ", not f64");
        try (Precision f64 = Precision.use(DType.F64); Scope s = Scope.open()) {
            for (Tensor p : params) p.zeroGrad();
            Tensor l = loss.get();
            assertEquals(DType.F64, l.dtype(), what + ": the loss is not f64");
            double value = l.itemAsDouble();
            l.backward();
            double absolute = ABSOLUTE * Math.max(1, Math.abs(value));
            for (Tensor p : params) {
                assertNotNull(p.grad(), what + ": no gradient reached a parameter of shape " + Arrays.toString(p.shape()));
                assertEquals(DType.F64, p.grad().dtype(), what + ": gradient dtype");
                double[] analytic = p.grad().toDoubleArray();
                double[] values = p.toDoubleArray();
                double maxAbs = 0, worst = 0;
                for (int i = 0; i < values.length; i++) {
                    double orig = values[i];
                    values[i] = orig + STEP;
                    p.set(values);
                    double up = eval(loss);
                    values[i] = orig - STEP;
                    p.set(values);
                    double down = eval(loss);
                    values[i] = orig;
                    p.set(values);
                    double numeric = (up - down) / (2 * STEP);
                    maxAbs = Math.max(maxAbs, Math.abs(numeric));
                    double err = Math.abs(numeric - analytic[i]);
                    worst = Math.max(worst, err / (Math.abs(numeric) + 1e-300));
                    assertTrue(err <= RELATIVE * Math.abs(numeric) + absolute, what + ": d/dp[" + i + "] of parameter "
                            + Arrays.toString(p.shape()) + ": analytic " + analytic[i] + " vs numeric " + numeric + " (error " + err + ")");
                }
                if (zeroByTheory.stream().noneMatch(z -> z == p)) assertTrue(maxAbs > 1e-4, what + ": gradient is ~zero everywhere, the check would prove nothing");
            }
            for (Tensor p : params) p.zeroGrad();
        }
    }

    private static double eval(Supplier<Tensor> loss) {
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            return loss.get().itemAsDouble();
        }
    }
}
