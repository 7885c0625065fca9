package dev.kiln.examples;

import dev.kiln.nn.Devices;
import dev.kiln.nn.Losses;
import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.BatchNorm;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.optim.Adam;
import dev.kiln.nn.optim.GradClip;
import dev.kiln.nn.optim.LrSchedule;
import dev.kiln.nn.optim.Optimizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A training loop written by hand against Kiln's public API, for when {@code kiln train} is not the loop
 * you want: build a model from layers, then per step open a {@link Scope} (every activation, gradient of an
 * intermediate and temporary of the step is freed when it closes), run forward, the loss, backward, clip,
 * set the learning rate from a schedule and step the optimiser; evaluate under {@link NoGrad}. Tensors live
 * on whatever device dispatch ranks first ({@code KILN_BACKEND=opencl} forces one), and the same code runs
 * on all of them.
 *
 * <p>Data: Fashion-MNIST from {@code --data DIR} (default {@link FashionMnist#DEFAULT_DIR}); when that folder
 * is missing, a synthetic stand-in (each class lights a different band of a noisy image) and a line saying so.
 *
 * <pre>{@code
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... \
 *     dev.kiln.examples.CustomTrainingLoop --steps 300 --batch 64 --lr 2e-3 --seed 1
 * }</pre>
 */
public final class CustomTrainingLoop {
    /** What a run did: the loss of every step, the test accuracy at the end, and where it ran. */
    public record Result(List<Double> losses, double testAccuracy, int testImages, String device, boolean synthetic) {}

    /** Options: {@code steps} updates of {@code batch} images, Adam at {@code lr} with warm-up and cosine decay. */
    public record Options(Path data, int steps, int batch, double lr, long seed, int testImages) {
        public static Options defaults() { return new Options(FashionMnist.DEFAULT_DIR, 300, 64, 2e-3, 1, 2000); }
    }

    private CustomTrainingLoop() {}

    public static void main(String[] args) throws IOException {
        Options o = parse(args);
        Result r = run(o, System.out);
        System.out.printf(Locale.ROOT, "test accuracy %.4f%n", r.testAccuracy());
    }

    /** Trains and evaluates as described in the class comment, printing progress to {@code log}. */
    public static Result run(Options o, java.io.PrintStream log) throws IOException {
        boolean synthetic = !Files.isDirectory(o.data());
        LabelledImages train, test;
        if (synthetic) {
            log.println("data: " + o.data() + " not found, using a synthetic stand-in (install dataset-fashion-mnist for the real thing)");
            train = synthetic(Math.max(o.steps() * o.batch(), 1024), o.seed());
            test = synthetic(o.testImages(), o.seed() + 1);
        } else {
            train = FashionMnist.train(o.data());
            test = FashionMnist.test(o.data());
        }
        log.println("device: " + Devices.current().backend() + " / " + Devices.current().name());

        SplittableRandom init = new SplittableRandom(o.seed());
        // A small CNN: 28x28 -> conv 8 -> pool -> 14x14 -> conv 16 + batch norm -> pool -> 7x7 -> flatten -> 10 logits.
        try (Sequential model = new Sequential(
                     new Conv2d(1, 8, 3, 1, 1, init), Activations.relu(), Activations.maxPool2d(2, 2),
                     new Conv2d(8, 16, 3, 1, 1, init), BatchNorm.of2d(16), Activations.relu(), Activations.maxPool2d(2, 2),
                     Activations.flatten(), new Linear(16 * 7 * 7, FashionMnist.CLASSES, init));
             Optimizer optimizer = Adam.adamW(model.parameters(), o.lr())) {
            LrSchedule schedule = LrSchedule.warmup(Math.min(20, o.steps() / 10), LrSchedule.cosine(o.lr(), o.steps(), o.lr() / 20));
            SplittableRandom shuffle = new SplittableRandom(o.seed() + 7);
            List<Double> losses = new ArrayList<>(o.steps());
            model.train(true);
            for (int step = 0; step < o.steps(); step++) {
                int[] picks = new int[o.batch()];
                for (int i = 0; i < picks.length; i++) picks[i] = shuffle.nextInt(train.count());
                try (Scope scope = Scope.open()) {
                    Tensor x = images(train, picks);
                    Tensor loss = Losses.crossEntropy(model.forward(x), labels(train, picks));
                    loss.backward();
                    GradClip.clipGlobalNorm(model.parameters(), 5.0);
                    optimizer.setLearningRate(schedule.at(step));
                    optimizer.step();
                    losses.add((double) loss.item());
                }
                if ((step + 1) % 50 == 0 || step + 1 == o.steps())
                    log.printf(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e%n", step + 1, o.steps(), mean(losses, 50), schedule.at(step));
            }
            model.train(false);
            double accuracy = evaluate(model, test, Math.min(o.testImages(), test.count()), 250);
            return new Result(losses, accuracy, Math.min(o.testImages(), test.count()), Devices.current().backend(), synthetic);
        }
    }

    /** Accuracy on the first {@code n} images, in chunks, with no graph recorded and one scope per chunk. */
    static double evaluate(Sequential model, LabelledImages test, int n, int chunk) {
        int correct = 0;
        for (int from = 0; from < n; from += chunk) {
            int[] picks = new int[Math.min(chunk, n - from)];
            for (int i = 0; i < picks.length; i++) picks[i] = from + i;
            try (Scope scope = Scope.open(); NoGrad noGrad = NoGrad.enter()) {
                int[] predicted = Losses.argmax(model.forward(images(test, picks)));
                for (int i = 0; i < picks.length; i++) if (predicted[i] == test.labels()[picks[i]]) correct++;
            }
        }
        return (double) correct / n;
    }

    /** The chosen images, normalised with the data set's mean and deviation, as n x 1 x h x w. */
    static Tensor images(LabelledImages data, int[] picks) {
        int px = data.pixels();
        float[] x = new float[picks.length * px];
        for (int i = 0; i < picks.length; i++)
            for (int j = 0; j < px; j++) x[i * px + j] = (data.images()[picks[i] * px + j] - FashionMnist.MEAN) / FashionMnist.STD;
        return Tensor.of(x, picks.length, 1, data.height(), data.width());
    }

    static int[] labels(LabelledImages data, int[] picks) {
        int[] y = new int[picks.length];
        for (int i = 0; i < picks.length; i++) y[i] = data.labels()[picks[i]];
        return y;
    }

    /** Each class lights a different pair of rows of a noisy 28x28 image: learnable, but not in one step. */
    static LabelledImages synthetic(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] px = new float[n * 784];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(FashionMnist.CLASSES);
            for (int row = 0; row < 28; row++) {
                boolean lit = row / 2 == y[i] + 2;
                for (int col = 0; col < 28; col++)
                    px[i * 784 + row * 28 + col] = (float) Math.min(1, Math.max(0, (lit ? 0.7 : 0.1) + 0.2 * r.nextGaussian()));
            }
        }
        return new LabelledImages(px, y, n, 28, 28, FashionMnist.CLASSES);
    }

    private static double mean(List<Double> xs, int last) {
        double s = 0;
        int from = Math.max(0, xs.size() - last);
        for (int i = from; i < xs.size(); i++) s += xs.get(i);
        return s / (xs.size() - from);
    }

    static Options parse(String[] args) {
        Options d = Options.defaults();
        Path data = d.data();
        int steps = d.steps(), batch = d.batch(), testImages = d.testImages();
        double lr = d.lr();
        long seed = d.seed();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("custom training loop: " + a + " needs a value");
            String v = args[++i];
            switch (a) {
                case "--data" -> data = Path.of(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--batch" -> batch = Integer.parseInt(v);
                case "--lr" -> lr = Double.parseDouble(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--test-images" -> testImages = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("custom training loop: unknown option " + a
                        + " (takes --data DIR --steps N --batch N --lr X --seed N --test-images N)");
            }
        }
        if (steps <= 0 || batch <= 0 || testImages <= 0 || !(lr > 0))
            throw new IllegalArgumentException("custom training loop: steps, batch, test images and lr must be positive");
        return new Options(data, steps, batch, lr, seed, testImages);
    }
}
