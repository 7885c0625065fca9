package dev.kiln.nn.quant;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Linear;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The quantised inference layers (low-bit GEMM) against the fake-quantised forward they were converted from:
 * the s32 accumulators equal the dot products of the fake-quantised codes exactly (int8, binary), and the
 * f32 outputs agree to rounding.
 */
class QuantizedLayersTest {
    private static float[] random(SplittableRandom r, int n, boolean nonNegative) {
        float[] v = new float[n];
        for (int i = 0; i < v.length; i++) {
            float g = (float) r.nextGaussian();
            v[i] = nonNegative ? Math.max(0, g) : g;
        }
        return v;
    }

    /** Observes {@code x} once in training mode, then returns the frozen fake-quantised forward. */
    private static float[] fakeForward(QatLayer layer, Tensor x) {
        try (NoGrad ng = NoGrad.enter()) {
            layer.train(true);
            layer.forward(x);
            layer.train(false);
            return layer.forward(x).toArray();
        }
    }

    private static void assertClose(float[] expected, float[] got, double relative, String what) {
        double max = 0;
        for (float v : expected) max = Math.max(max, Math.abs(v));
        assertEquals(expected.length, got.length, what);
        for (int i = 0; i < got.length; i++)
            assertEquals(expected[i], got[i], relative * max + 1e-6, what + " at " + i + " (max |y| " + max + ")");
        assertTrue(max > 0, what + ": all-zero output proves nothing");
    }

    @Test void linearMatchesTheFakeQuantisedForward() {
        long seed = 11;
        SplittableRandom r = new SplittableRandom(seed);
        for (QuantMode mode : QuantMode.values()) {
            int k = mode == QuantMode.INT4 ? 48 : 33, n = 7;   // int4: groups of 16; binary: rows padded to whole bytes
            for (boolean nonNegative : new boolean[] {true, false}) {
                for (int m : new int[] {1, 7, 13}) {
                    try (Scope s = Scope.open(); Linear f32 = new Linear(k, n, r)) {
                        QatLinear qat = new QatLinear(mode, f32.parameters().get(0).tensor(), f32.parameters().get(1).tensor(), 1);
                        Tensor x = Tensor.of(random(r, m * k, nonNegative), m, k);
                        float[] fake = fakeForward(qat, x);
                        String what = "seed " + seed + " " + mode + " m=" + m + " k=" + k + (nonNegative ? " u8" : " s8");
                        try (QuantizedLinear q = new QuantizedLinear(qat); NoGrad ng = NoGrad.enter()) {
                            assertEquals(mode == QuantMode.INT8 && nonNegative, q.matmul.unsignedInput, what);
                            assertClose(fake, q.forward(x).toArray(), 2e-5, what);
                            if (mode != QuantMode.INT4) assertExactAccumulators(qat, q.matmul, x, m, k, n, what);
                        }
                        qat.observer.close();
                    }
                }
            }
        }
    }

    /** The kernel's s32 accumulators against the integer dot products of the codes the fake forward used. */
    private static void assertExactAccumulators(QatLayer qat, LowBitMatmul mm, Tensor x, int m, int k, int n, String what) {
        float[] xq = FakeQuant.input(qat.mode, x, qat.observer, 1).toArray();
        float[] wq = FakeQuant.weight(qat.mode, qat.weight, k, 1).toArray();
        long[] expected = new long[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                long acc = 0;
                for (int p = 0; p < k; p++)
                    acc += Math.round(xq[i * k + p] / mm.inputScale) * Math.round(wq[j * k + p] / mm.weightScales[j]);
                expected[i * n + j] = acc;
            }
        int[] got = mm.accumulators(x.toArray(), m);
        for (int i = 0; i < got.length; i++) assertEquals(expected[i], got[i], what + ": accumulator " + i);
    }

    @Test void conv2dMatchesTheFakeQuantisedForwardIncludingBinaryPadding() {
        long seed = 12;
        SplittableRandom r = new SplittableRandom(seed);
        for (QuantMode mode : QuantMode.values()) {
            for (int[] g : new int[][] {{4, 5, 3, 1, 1, 7, 6}, {4, 3, 3, 2, 2, 9, 5}}) {   // c, k, kernel, stride, pad, h, w
                int c = g[0], kOut = g[1], kernel = g[2], stride = g[3], pad = g[4], h = g[5], w = g[6], n = 2;
                try (Scope s = Scope.open(); Conv2d f32 = new Conv2d(c, kOut, kernel, stride, pad, r)) {
                    QatConv2d qat = new QatConv2d(mode, f32.parameters().get(0).tensor(), f32.parameters().get(1).tensor(), stride, pad, 1);
                    Tensor x = Tensor.of(random(r, n * c * h * w, false), n, c, h, w);
                    float[] fake = fakeForward(qat, x);
                    String what = "seed " + seed + " " + mode + " conv " + java.util.Arrays.toString(g);
                    try (QuantizedConv2d q = new QuantizedConv2d(qat); NoGrad ng = NoGrad.enter()) {
                        Tensor y = q.forward(x);
                        int p = (h + 2 * pad - kernel) / stride + 1, qq = (w + 2 * pad - kernel) / stride + 1;
                        assertArrayEquals(new int[] {n, kOut, p, qq}, y.shape(), what);
                        assertClose(fake, y.toArray(), 2e-5, what);
                    }
                    qat.observer.close();
                }
            }
        }
    }

    @Test void quantisedLayersRejectInputsOfTheWrongShape() {
        try (Scope s = Scope.open(); Linear f32 = new Linear(8, 3, new SplittableRandom(1))) {
            QatLinear qat = new QatLinear(QuantMode.INT8, f32.parameters().get(0).tensor(), f32.parameters().get(1).tensor(), 1);
            fakeForward(qat, Tensor.of(random(new SplittableRandom(2), 16, true), 2, 8));
            try (Layer q = new QuantizedLinear(qat)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.forward(Tensor.zeros(2, 9)));
                assertTrue(e.getMessage().contains("quantized linear(8->3): input of shape [2, 9], expected [batch, 8]"), e.getMessage());
            }
            qat.observer.close();
        }
    }

    @Test void convertingBeforeAnyInputWasSeenIsAClearError() {
        try (Scope s = Scope.open(); Linear f32 = new Linear(8, 3, new SplittableRandom(1))) {
            QatLinear qat = new QatLinear(QuantMode.INT8, f32.parameters().get(0).tensor(), f32.parameters().get(1).tensor(), 1);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new QuantizedLinear(qat));
            assertTrue(e.getMessage().contains("never observed"), e.getMessage());
            qat.observer.close();
        }
    }
}
