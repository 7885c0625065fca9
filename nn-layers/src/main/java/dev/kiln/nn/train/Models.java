package dev.kiln.nn.train;

import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The Fashion-MNIST models {@code kiln train} offers. Weights are drawn from {@code SplittableRandom(seed)}
 * layer by layer, so a seed fixes the initial model on every backend. Parameter names are
 * {@code INDEX.weight} / {@code INDEX.bias} by position in the sequence.
 */
public final class Models {
    /** The model names {@link #create} accepts. */
    public static final List<String> NAMES = List.of("cnn", "mlp");

    private Models() {}

    /**
     * conv(1->32, 5x5, pad 2) - ReLU - maxpool 2 - conv(32->64, 5x5, pad 2) - ReLU - maxpool 2 - flatten -
     * linear(3136->128) - ReLU - linear(128->10), for input n x 1 x 28 x 28.
     */
    public static Sequential cnn(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        return new Sequential(
                new Conv2d(1, 32, 5, 1, 2, r), Activations.relu(), Activations.maxPool2d(2, 2),
                new Conv2d(32, 64, 5, 1, 2, r), Activations.relu(), Activations.maxPool2d(2, 2),
                Activations.flatten(),
                new Linear(64 * 7 * 7, 128, r), Activations.relu(),
                new Linear(128, 10, r));
    }

    /** 784-256-256-10 with ReLU, for flattened input n x 784. */
    public static Sequential mlp(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        return new Sequential(new Linear(784, 256, r), Activations.relu(), new Linear(256, 256, r), Activations.relu(),
                new Linear(256, 10, r));
    }

    public static Sequential create(String name, long seed) {
        return switch (name) {
            case "cnn" -> cnn(seed);
            case "mlp" -> mlp(seed);
            default -> throw new IllegalArgumentException("model: unknown model " + name + " (choose one of " + NAMES + ")");
        };
    }

    /** Whether the model takes flattened rows (n x 784) rather than images (n x 1 x 28 x 28). */
    public static boolean takesFlatInput(String name) {
        if (!NAMES.contains(name)) throw new IllegalArgumentException("model: unknown model " + name + " (choose one of " + NAMES + ")");
        return name.equals("mlp");
    }
}
