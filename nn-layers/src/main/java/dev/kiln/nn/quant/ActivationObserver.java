package dev.kiln.nn.quant;

import dev.kiln.nn.Tensor;

/**
 * Tracks the range of a layer's input while training or calibrating, as exponential moving averages of
 * per-batch statistics (momentum {@link #MOMENTUM}; the first batch sets them): the largest magnitude and
 * the smallest value (int8 scales), and the mean and mean absolute deviation from it (binary threshold and
 * scale). The state lives in a 5-element tensor so that checkpoints carry it:
 * {@code [batches seen (capped at 1), max |x|, min x, mean, mean |x - mean|]}.
 */
final class ActivationObserver implements AutoCloseable {
    static final float MOMENTUM = 0.9f;

    private final Tensor state;

    ActivationObserver() { state = Tensor.zeros(5).keep(); }

    Tensor state() { return state; }

    /** Folds the statistics of {@code x} into the averages. */
    void observe(float[] x) {
        double maxAbs = 0, min = Double.POSITIVE_INFINITY, sum = 0;
        for (float v : x) {
            maxAbs = Math.max(maxAbs, Math.abs(v));
            min = Math.min(min, v);
            sum += v;
        }
        double mean = sum / x.length, dev = 0;
        for (float v : x) dev += Math.abs(v - mean);
        dev /= x.length;
        float[] s = state.toArray();
        float[] batch = {1, (float) maxAbs, (float) min, (float) mean, (float) dev};
        if (s[0] == 0) s = batch;
        else for (int i = 1; i < 5; i++) s[i] = MOMENTUM * s[i] + (1 - MOMENTUM) * batch[i];
        state.set(s);
    }

    private float[] values() {
        float[] s = state.toArray();
        if (s[0] == 0) throw new IllegalStateException("quant: an input range was never observed (train or calibrate the model first)");
        return s;
    }

    /** True when the observed inputs were never negative: quantise them unsigned. */
    boolean unsigned() { return values()[2] >= 0; }

    /** The per-tensor int8 scale: max |x| / 255 for unsigned inputs, / 127 for signed ones. */
    float int8Scale() {
        float[] s = values();
        return positive(s[1] / (s[2] >= 0 ? 255f : 127f));
    }

    /** The binary threshold tau: inputs at or above it become +1. */
    float binaryShift() { return values()[3]; }

    /** The binary scale beta: the mean distance of the inputs from tau. */
    float binaryScale() { return positive(values()[4]); }

    private static float positive(float s) { return s > 0 && Float.isFinite(s) ? s : 1e-8f; }

    @Override public void close() { state.close(); }
}
