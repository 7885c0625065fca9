package dev.kiln.nn.layers;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.SplittableRandom;

/**
 * Inverted dropout: in training each element is kept with probability 1 - p and scaled by 1/(1 - p); in
 * evaluation the layer is the identity. Masks are drawn on the host from a {@code SplittableRandom} seeded
 * at construction, so a seed fixes every mask of a run; the mask is one multiply, whose backward is the
 * same mask.
 */
public final class Dropout implements Layer {
    private final double p;
    private final SplittableRandom random;
    private boolean training = true;

    public Dropout(double p, long seed) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        this.p = p;
        this.random = new SplittableRandom(seed);
    }

    @Override public Tensor forward(Tensor x) {
        if (!training || p == 0) return x;
        float keep = (float) (1 / (1 - p));
        float[] mask = new float[Math.toIntExact(x.count())];
        for (int i = 0; i < mask.length; i++) mask[i] = random.nextDouble() < p ? 0 : keep;
        return Ops.mul(x, Tensor.of(x.dtype(), mask, x.shape()));
    }

    @Override public void train(boolean training) { this.training = training; }
}
