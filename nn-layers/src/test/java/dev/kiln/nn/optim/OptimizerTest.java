package dev.kiln.nn.optim;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Parameter;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Each update rule against the same rule written out in double on the host, over a few steps with
 * changing gradients. The device computes in f32, hence the 1e-6 relative tolerance.
 */
class OptimizerTest {
    static final float[] W0 = {0.5f, -1.25f, 2f};
    /** The gradient fed at step t for element i. */
    static final double[][] GRADS = {{0.3, -0.2, 1.5}, {-0.7, 0.1, 0.4}, {0.2, 0.9, -1.1}, {1.0, -0.5, 0.05}};

    /** Gives {@code w} the gradient {@code g} through a real backward pass: d/dw sum(w * g) = g. */
    static void feed(Tensor w, double[] g) {
        float[] gf = new float[g.length];
        for (int i = 0; i < g.length; i++) gf[i] = (float) g[i];
        try (Scope s = Scope.open()) {
            Ops.sum(Ops.mul(w, Tensor.of(gf, gf.length))).backward();
        }
    }

    static void assertClose(double[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], 1e-6 * Math.max(1, Math.abs(expected[i])), what + " element " + i);
    }

    static double[] w0() {
        double[] w = new double[W0.length];
        for (int i = 0; i < w.length; i++) w[i] = W0[i];
        return w;
    }

    @Test void sgdWithMomentumWeightDecayAndNesterov() {
        for (boolean nesterov : new boolean[] {false, true}) {
            double lr = 0.1, mu = 0.9, wd = 0.01;
            try (Tensor w = Tensor.parameter(W0.clone(), 3);
                 Sgd opt = new Sgd(List.of(new Parameter("w", w)), lr, mu, wd, nesterov)) {
                double[] ref = w0(), v = new double[3];
                for (double[] g : GRADS) {
                    feed(w, g);
                    opt.step();
                    for (int i = 0; i < 3; i++) {
                        double d = g[i] + wd * ref[i];
                        v[i] = mu * v[i] + d;
                        ref[i] -= lr * (nesterov ? d + mu * v[i] : v[i]);
                    }
                    assertClose(ref, w.toArray(), "sgd nesterov=" + nesterov);
                    assertNull(w.grad(), "step clears the gradient");
                }
                assertEquals(GRADS.length, opt.steps());
                assertEquals("momentum.w", opt.state().getFirst().name());
            }
        }
    }

    @Test void plainSgdHasNoState() {
        try (Tensor w = Tensor.parameter(W0.clone(), 3); Sgd opt = new Sgd(List.of(new Parameter("w", w)), 0.5, 0, 0, false)) {
            feed(w, GRADS[0]);
            opt.step();
            double[] ref = w0();
            for (int i = 0; i < 3; i++) ref[i] -= 0.5 * GRADS[0][i];
            assertClose(ref, w.toArray(), "sgd");
            assertTrue(opt.state().isEmpty());
        }
    }

    @Test void adamAndAdamWWithBiasCorrection() {
        for (boolean decoupled : new boolean[] {false, true}) {
            double lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
            try (Tensor w = Tensor.parameter(W0.clone(), 3);
                 Adam opt = new Adam(List.of(new Parameter("w", w)), lr, b1, b2, eps, wd, decoupled)) {
                double[] ref = w0(), m = new double[3], v = new double[3];
                int t = 0;
                for (double[] grad : GRADS) {
                    feed(w, grad);
                    opt.step();
                    t++;
                    for (int i = 0; i < 3; i++) {
                        double g = grad[i];
                        if (decoupled) ref[i] *= 1 - lr * wd;
                        else g += wd * ref[i];
                        m[i] = b1 * m[i] + (1 - b1) * g;
                        v[i] = b2 * v[i] + (1 - b2) * g * g;
                        double mHat = m[i] / (1 - Math.pow(b1, t)), vHat = v[i] / (1 - Math.pow(b2, t));
                        ref[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
                    }
                    assertClose(ref, w.toArray(), (decoupled ? "adamw" : "adam") + " step " + t);
                }
                assertEquals(decoupled ? "adamw" : "adam", opt.name());
                assertEquals(List.of("exp_avg.w", "exp_avg_sq.w"), opt.state().stream().map(Parameter::name).toList());
                assertClose(m, opt.state().get(0).tensor().toArray(), "first moment");
                assertClose(v, opt.state().get(1).tensor().toArray(), "second moment");
            }
        }
    }

    @Test void parametersWithoutGradientsAreLeftAlone() {
        try (Tensor a = Tensor.parameter(W0.clone(), 3); Tensor b = Tensor.parameter(W0.clone(), 3);
             Adam opt = Adam.adam(List.of(new Parameter("a", a), new Parameter("b", b)), 0.1)) {
            feed(a, GRADS[0]);
            opt.step();
            assertArrayEquals(W0, b.toArray());
            assertNotEquals(W0[0], a.toArray()[0]);
        }
    }

    @Test void schedules() {
        assertEquals(0.3, LrSchedule.constant(0.3).at(1000));
        LrSchedule step = LrSchedule.step(1.0, 10, 0.5);
        assertEquals(1.0, step.at(9));
        assertEquals(0.5, step.at(10));
        assertEquals(0.25, step.at(25));
        LrSchedule cos = LrSchedule.cosine(1.0, 100, 0.1);
        assertEquals(1.0, cos.at(0), 1e-15);
        assertEquals(0.55, cos.at(50), 1e-12);
        assertEquals(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), cos.at(25), 1e-12);
        assertEquals(0.1, cos.at(100));
        assertEquals(0.1, cos.at(500));
        LrSchedule warm = LrSchedule.warmup(4, LrSchedule.constant(2.0));
        assertEquals(0.5, warm.at(0));
        assertEquals(1.5, warm.at(2));
        assertEquals(2.0, warm.at(3));
        assertEquals(2.0, warm.at(4));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.step(1, 0, 0.5));
    }

    @Test void clippingByGlobalNorm() {
        try (Tensor a = Tensor.parameter(new float[] {1, 1}, 2); Tensor b = Tensor.parameter(new float[] {1}, 1)) {
            List<Parameter> ps = List.of(new Parameter("a", a), new Parameter("b", b));
            feed(a, new double[] {3, 0});
            feed(b, new double[] {4});
            assertEquals(5.0, GradClip.clipGlobalNorm(ps, 1.0), 1e-6);
            double f = 1.0 / (5.0 + 1e-6);
            assertClose(new double[] {3 * f, 0}, a.grad().toArray(), "clipped a");
            assertClose(new double[] {4 * f}, b.grad().toArray(), "clipped b");
            assertEquals(1.0, GradClip.clipGlobalNorm(ps, 2.0), 1e-5, "already within the limit");
            assertClose(new double[] {4 * f}, b.grad().toArray(), "unchanged below the limit");
            a.zeroGrad();
            b.zeroGrad();
        }
    }

    @Test void badHyperParametersAreNamed() {
        try (Tensor w = Tensor.parameter(W0.clone(), 3)) {
            List<Parameter> ps = List.of(new Parameter("w", w));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Adam(ps, 0.1, 1.0, 0.999, 1e-8, 0, true));
            assertTrue(e.getMessage().startsWith("adamw:") && e.getMessage().contains("1.0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new Sgd(ps, -1, 0.9, 0, false));
            assertTrue(e.getMessage().contains("lr=-1.0"), e.getMessage());
        }
    }
}
