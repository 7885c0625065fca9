package dev.kiln.nn.quant;

import dev.kiln.kernels.DType;
import dev.kiln.nn.QuantOps;
import dev.kiln.nn.Tensor;

/**
 * The quantisation arithmetic shared by the fake-quantised layers (training) and the quantised ones
 * (inference), so that both use the same scales and the same codes.
 */
final class FakeQuant {
    private FakeQuant() {}

    static final int S8_MAX = 127, U8_MAX = 255, S4_MAX = 7;

    /** Settings of the binary estimator: o rises linearly from 1 to {@link #RESTE_O_END} over training. */
    static final double RESTE_O_END = 3, RESTE_THRESHOLD = 1.5, RESTE_MAX_GRADIENT = 5;

    /** One scale per block of {@code block} consecutive weights: max |w| / qmax (symmetric). */
    static float[] maxScales(float[] w, int block, int qmax) {
        float[] s = new float[w.length / block];
        for (int b = 0; b < s.length; b++) {
            float m = 0;
            for (int i = b * block; i < (b + 1) * block; i++) m = Math.max(m, Math.abs(w[i]));
            s[b] = m > 0 ? m / qmax : 1e-8f;
        }
        return s;
    }

    /** One scale per block: the mean |w| (XNOR-Net's alpha, the L1-optimal scale for sign(w)). */
    static float[] meanAbsScales(float[] w, int block) {
        float[] s = new float[w.length / block];
        for (int b = 0; b < s.length; b++) {
            double sum = 0;
            for (int i = b * block; i < (b + 1) * block; i++) sum += Math.abs(w[i]);
            s[b] = sum > 0 ? (float) (sum / block) : 1e-8f;
        }
        return s;
    }

    /** The weight's scales for {@code mode}: per output channel (int8, binary) or per group (int4). */
    static float[] weightScales(QuantMode mode, float[] w, int fanIn) {
        return switch (mode) {
            case INT8 -> maxScales(w, fanIn, S8_MAX);
            case INT4 -> maxScales(w, QuantMode.groupSize(fanIn), S4_MAX);
            case BINARY -> meanAbsScales(w, fanIn);
        };
    }

    static int weightBlock(QuantMode mode, int fanIn) { return mode == QuantMode.INT4 ? QuantMode.groupSize(fanIn) : fanIn; }

    /** The fake-quantised weight (differentiable through the estimator of the mode). */
    static Tensor weight(QuantMode mode, Tensor w, int fanIn, double reSteO) {
        float[] v = w.toArray();
        float[] scales = weightScales(mode, v, fanIn);
        int block = weightBlock(mode, fanIn);
        return switch (mode) {
            case INT8 -> QuantOps.fakeQuantize(w, scales, block, DType.S8);
            case INT4 -> QuantOps.fakeQuantize(w, scales, block, DType.S4);
            case BINARY -> QuantOps.binarize(w, scales, block, 0, reSte(reSteO));
        };
    }

    /** The fake-quantised input: int8 per tensor, binary per tensor, or unchanged for int4 (f32 activations). */
    static Tensor input(QuantMode mode, Tensor x, ActivationObserver observer, double reSteO) {
        int n = Math.toIntExact(x.count());
        return switch (mode) {
            case INT8 -> QuantOps.fakeQuantize(x, new float[] {observer.int8Scale()}, n, observer.unsigned() ? DType.U8 : DType.S8);
            case INT4 -> x;
            case BINARY -> QuantOps.binarize(x, new float[] {observer.binaryScale()}, n, observer.binaryShift(), reSte(reSteO));
        };
    }

    static QuantOps.ReSTE reSte(double o) { return new QuantOps.ReSTE(o, RESTE_THRESHOLD, RESTE_MAX_GRADIENT); }
}
