package dev.kiln.nn.train;

import dev.kiln.nn.data.LabelledImages;

import java.util.SplittableRandom;

/** A Fashion-MNIST-shaped stand-in: each class lights a different horizontal band of a noisy 28x28 image. */
final class Synthetic {
    private Synthetic() {}

    static LabelledImages images(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] px = new float[n * 784];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(10);
            for (int row = 0; row < 28; row++) {
                boolean lit = row / 2 == y[i] + 2;
                for (int col = 0; col < 28; col++)
                    px[i * 784 + row * 28 + col] = (float) Math.min(1, Math.max(0, (lit ? 0.7 : 0.1) + 0.2 * r.nextGaussian()));
            }
        }
        return new LabelledImages(px, y, n, 28, 28, 10);
    }
}
