package dev.kiln.nn.quant;

import dev.kiln.kernels.DType;
import dev.kiln.nn.Ops;
import dev.kiln.nn.QuantOps;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Fake quantisation and binarisation: forward values and estimator gradients against hand and plain computations. */
class FakeQuantTest {
    /** The gradient of sum(c * f(x)) with respect to x, for fixed weights c. */
    private static float[] gradient(float[] x, float[] c, java.util.function.UnaryOperator<Tensor> f) {
        try (Scope s = Scope.open(); Tensor leaf = Tensor.parameter(x, x.length)) {
            Ops.sum(Ops.mul(f.apply(leaf), Tensor.of(c, c.length))).backward();
            return leaf.grad().toArray();
        }
    }

    @Test void straightThroughPassesInsideTheRangeOnly() {
        // scale 0.5, s4 codes in [-7, 7]: -5.0 -> -10 clipped to -7; -1.25 -> -2.5 -> -2 (half to even); 1.75 -> 3.5 -> 4; 3.5 -> 7 (edge, kept);
        // 3.8 -> 7.6 -> 8 clipped; -0.25 -> -0.5 -> -0.
        float[] x = {-5f, -1.25f, 1.75f, 3.5f, 3.8f, -0.25f};
        float[] c = {1, 2, 3, 4, 5, 6};
        try (Scope s = Scope.open()) {
            float[] y = QuantOps.fakeQuantize(Tensor.of(x, 6), new float[] {0.5f}, 6, DType.S4).toArray();
            assertArrayEquals(new float[] {-3.5f, -1f, 2f, 3.5f, 3.5f, 0f}, y, 0f);   // delta 0: -0 and 0 both pass
        }
        assertArrayEquals(new float[] {0, 2, 3, 4, 0, 6}, gradient(x, c, t -> QuantOps.fakeQuantize(t, new float[] {0.5f}, 6, DType.S4)));
        // Unsigned range [0, 255]: negatives whose code rounds below 0 are clipped and get no gradient (-0.25 rounds to 0: kept).
        assertArrayEquals(new float[] {0, 0, 3, 4, 5, 6}, gradient(x, c, t -> QuantOps.fakeQuantize(t, new float[] {0.5f}, 6, DType.U8)));
    }

    @Test void reSteGradientMatchesHandValues() {
        QuantOps.ReSTE e = new QuantOps.ReSTE(3, 1.5, 5);
        assertEquals(Math.pow(0.5, -2.0 / 3) / 3, e.gradient(0.5), 1e-12);   // (1/3) 0.5^(-2/3) = 0.52913
        assertEquals(0.52913, e.gradient(-0.5), 1e-5);
        assertEquals(1.0 / 3, e.gradient(1.0), 1e-12);
        assertEquals(5, e.gradient(0.001), 0);                               // (1/3) 0.001^(-2/3) = 33.3, capped at 5
        assertEquals(5, e.gradient(0), 0);
        assertEquals(0, e.gradient(1.6), 0);                                  // outside the threshold
        assertEquals(1, new QuantOps.ReSTE(1, 1.5, 5).gradient(1.2), 0);     // o = 1: the clipped straight-through estimator
        assertThrows(IllegalArgumentException.class, () -> new QuantOps.ReSTE(0.5, 1.5, 5));

        // Through binarize: u = (x - shift) / s with shift 0.5, s 2.
        float[] x = {0.5f + 2 * 0.5f, 0.5f - 2 * 1.0f, 0.5f + 2 * 2f, 0.5f};
        float[] c = {1, 1, 1, 2};
        try (Scope s = Scope.open()) {
            float[] y = QuantOps.binarize(Tensor.of(x, 4), new float[] {2f}, 4, 0.5f, e).toArray();
            assertArrayEquals(new float[] {2, -2, 2, 2}, y);                  // sign(0) = +1
        }
        float[] g = gradient(x, c, t -> QuantOps.binarize(t, new float[] {2f}, 4, 0.5f, e));
        assertArrayEquals(new float[] {0.52913f, 1f / 3, 0, 10}, g, 1e-5f);
    }

    @Test void perChannelAndGroupFakeQuantMatchAPlainComputation() {
        SplittableRandom r = new SplittableRandom(7);
        for (int[] shape : new int[][] {{7, 33}, {1, 64}, {13, 96}}) {
            int rows = shape[0], k = shape[1];
            float[] w = new float[rows * k];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian() * 0.1f;
            for (QuantMode mode : new QuantMode[] {QuantMode.INT8, QuantMode.INT4}) {
                if (mode == QuantMode.INT4 && QuantMode.groupSize(k) == 0) continue;
                int block = mode == QuantMode.INT8 ? k : QuantMode.groupSize(k), qmax = mode == QuantMode.INT8 ? 127 : 7;
                float[] expected = new float[w.length];
                for (int b = 0; b < w.length / block; b++) {
                    double max = 0;
                    for (int i = b * block; i < (b + 1) * block; i++) max = Math.max(max, Math.abs(w[i]));
                    float scale = (float) max / qmax;
                    for (int i = b * block; i < (b + 1) * block; i++) {
                        double q = Math.rint(w[i] / scale);
                        expected[i] = (int) Math.max(-qmax, Math.min(qmax, q)) * scale;
                    }
                }
                try (Scope s = Scope.open(); Tensor t = Tensor.parameter(w, rows, k)) {
                    float[] got = FakeQuant.weight(mode, t, k, 1).toArray();
                    assertArrayEquals(expected, got, 0f, "seed 7 " + mode + " " + rows + "x" + k);
                    int distinct = (int) java.util.stream.IntStream.range(0, block).mapToObj(i -> got[i]).distinct().count();
                    assertTrue(distinct > 3 && distinct <= 2 * qmax + 1, "codes in use: " + distinct);
                }
            }
            // Binary: alpha_j = mean |w_j|, value alpha_j * sign(w).
            try (Scope s = Scope.open(); Tensor t = Tensor.parameter(w, rows, k)) {
                float[] got = FakeQuant.weight(QuantMode.BINARY, t, k, 1).toArray();
                for (int j = 0; j < rows; j++) {
                    double sum = 0;
                    for (int i = 0; i < k; i++) sum += Math.abs(w[j * k + i]);
                    float alpha = (float) (sum / k);
                    for (int i = 0; i < k; i++) assertEquals(w[j * k + i] >= 0 ? alpha : -alpha, got[j * k + i], 1e-7f);
                }
            }
        }
    }

    @Test void badScalesAreClearErrors() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[6], 6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantOps.fakeQuantize(x, new float[] {1, 1}, 4, DType.S4));
            assertTrue(e.getMessage().contains("2 scales of block 4 do not cover the 6 elements"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> QuantOps.fakeQuantize(x, new float[] {0}, 6, DType.S4));
            assertTrue(e.getMessage().contains("scale 0 is 0.0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> QuantMode.parse("foo"));
            assertEquals("quantisation mode foo is not one of [int8, int4, binary]", e.getMessage());
        }
    }
}
