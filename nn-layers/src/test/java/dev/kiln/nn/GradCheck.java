package dev.kiln.nn;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Central finite differences against autograd. The kernels compute in f32, so the step is 1e-2 and the
 * tolerance 2e-3 relative plus 2e-3 absolute: truncation error is O(step^2) ~ 1e-4 for these smooth
 * functions and f32 rounding of a sum of ~100 terms over 2*step is ~1e-4 too.
 */
final class GradCheck {
    private GradCheck() {}

    static float[] random(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    /** Random values of magnitude in [0.2, 1] with random sign: away from the kinks of relu/abs/max. */
    static float[] awayFromZero(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((0.2 + 0.8 * r.nextDouble()) * (r.nextBoolean() ? 1 : -1));
        return v;
    }

    /** Checks d loss / d p for every element of every parameter (small tensors only). */
    static void check(String what, Supplier<Tensor> loss, List<Tensor> params) {
        try (Scope s = Scope.open()) {
            for (Tensor p : params) p.zeroGrad();
            Tensor l = loss.get();
            l.backward();
            for (Tensor p : params) {
                assertNotNull(p.grad(), what + ": no gradient reached a parameter of shape " + java.util.Arrays.toString(p.shape()));
                float[] analytic = p.grad().toArray();
                float[] values = p.toArray();
                double step = 1e-2;
                double maxAbs = 0;
                for (int i = 0; i < values.length; i++) {
                    float orig = values[i];
                    values[i] = (float) (orig + step);
                    p.set(values);
                    double up = eval(loss);
                    values[i] = (float) (orig - step);
                    p.set(values);
                    double down = eval(loss);
                    values[i] = orig;
                    p.set(values);
                    double numeric = (up - down) / (2 * step);
                    maxAbs = Math.max(maxAbs, Math.abs(numeric));
                    assertEquals(numeric, analytic[i], 2e-3 + 2e-3 * Math.abs(numeric),
                            what + ": d/dp[" + i + "] of parameter " + java.util.Arrays.toString(p.shape()));
                }
                assertTrue(maxAbs > 1e-4, what + ": gradient is ~zero everywhere, the check would prove nothing");
            }
            for (Tensor p : params) p.zeroGrad();
        }
    }

    private static double eval(Supplier<Tensor> loss) {
        try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
            return loss.get().item();
        }
    }
}
