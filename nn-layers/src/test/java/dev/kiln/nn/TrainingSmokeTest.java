package dev.kiln.nn;

import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.optim.Sgd;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Small models learn a synthetic task through dispatch: the whole loop, not a single op, works. */
class TrainingSmokeTest {
    /** Two Gaussian-ish blobs per class in 8 dimensions: learnable, not trivially separable by one feature. */
    static float[][] data(int n, long seed, int[] labels) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * 8];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(3);
            for (int j = 0; j < 8; j++) x[i * 8 + j] = (float) (r.nextGaussian() * 0.7 + ((j + labels[i]) % 3 == 0 ? 1 : -0.5));
        }
        return new float[][] {x};
    }

    @Test void mlpLossFallsAndAccuracyRises() {
        SplittableRandom init = new SplittableRandom(7);
        int n = 96;
        int[] y = new int[n];
        float[] x = data(n, 3, y)[0];
        try (Sequential model = new Sequential(new Linear(8, 16, init), Activations.relu(), new Linear(16, 3, init));
             Sgd opt = new Sgd(model.parameters(), 0.1, 0.9, 0, false)) {
            float first = 0, last = 0;
            for (int step = 0; step < 60; step++) {
                try (Scope s = Scope.open()) {
                    Tensor loss = Losses.crossEntropy(model.forward(Tensor.of(x, n, 8)), y);
                    loss.backward();
                    opt.step();
                    if (step == 0) first = loss.item();
                    last = loss.item();
                }
            }
            int correct = 0;
            try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                int[] pred = Losses.argmax(model.forward(Tensor.of(x, n, 8)));
                for (int i = 0; i < n; i++) if (pred[i] == y[i]) correct++;
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
            assertTrue(correct > 0.85 * n, correct + " of " + n + " correct");
        }
    }

    @Test void tinyCnnLossFalls() {
        SplittableRandom init = new SplittableRandom(11);
        int n = 16;
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[n * 36];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 2;
            for (int p = 0; p < 36; p++) x[i * 36 + p] = (float) (r.nextGaussian() * 0.3 + (y[i] == 1 && p % 6 < 3 ? 1 : 0));
        }
        try (Sequential model = new Sequential(new Conv2d(1, 4, 3, 1, 1, init), Activations.relu(), Activations.maxPool2d(2, 2),
                Activations.flatten(), new Linear(36, 2, init));
             Sgd opt = new Sgd(model.parameters(), 0.05, 0.9, 1e-4, true)) {
            float first = 0, last = 0;
            for (int step = 0; step < 25; step++) {
                try (Scope s = Scope.open()) {
                    Tensor loss = Losses.crossEntropy(model.forward(Tensor.of(x, n, 1, 6, 6)), y);
                    loss.backward();
                    opt.step();
                    if (step == 0) first = loss.item();
                    last = loss.item();
                }
            }
            assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
        }
    }
}
