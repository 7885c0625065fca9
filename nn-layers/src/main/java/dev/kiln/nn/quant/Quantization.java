package dev.kiln.nn.quant;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.Losses;
import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.train.Batches;
import dev.kiln.nn.train.Models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Quantisation-aware training and post-training quantisation of the {@link Models} networks:
 * <ol>
 * <li>{@link #qat} swaps a model's Linear and Conv2d layers (those the {@link QuantMode} quantises) for
 *     fake-quantised ones sharing the same weight tensors;</li>
 * <li>training it, or {@link #calibrate calibrating} it on a few batches, fixes the input ranges;</li>
 * <li>{@link #convert} makes the inference model that runs those layers on the low-bit GEMM.</li>
 * </ol>
 */
public final class Quantization {
    /** Metadata key a QAT checkpoint carries (its mode). */
    public static final String METADATA_KEY = "qat";

    private Quantization() {}

    /** Accuracy and wall time of one pass over a data set. */
    public record Evaluation(double accuracy, double seconds, int samples) {
        public double samplesPerSecond() { return samples / Math.max(seconds, 1e-9); }
    }

    /**
     * The fake-quantised twin of {@code f32}, sharing its weight tensors (train one, the other sees it).
     * {@code totalSteps} paces the binary estimator's exponent.
     */
    public static Sequential qat(Sequential f32, QuantMode mode, int totalSteps) {
        List<Layer> layers = f32.layers();
        List<Integer> weighted = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) if (layers.get(i) instanceof Linear || layers.get(i) instanceof Conv2d) weighted.add(i);
        Layer[] out = layers.toArray(new Layer[0]);
        for (int i : weighted) {
            Layer l = layers.get(i);
            Tensor w = l.parameters().get(0).tensor(), b = l.parameters().get(1).tensor();
            int fanIn = Math.toIntExact(w.count() / w.dim(0));
            boolean quantise = switch (mode) {
                case INT8 -> true;
                case INT4 -> QuantMode.groupSize(fanIn) > 0;
                case BINARY -> i != weighted.getFirst() && i != weighted.getLast();
            };
            if (!quantise) continue;
            if (l instanceof Conv2d c) {
                if (c.groups() != 1 || c.dilation() != 1)
                    throw new IllegalArgumentException("qat: conv2d with groups=" + c.groups() + " dilation=" + c.dilation()
                            + " is not supported (one group, no dilation)");
                out[i] = new QatConv2d(mode, w, b, c.stride(), c.pad(), totalSteps);
            } else {
                out[i] = new QatLinear(mode, w, b, totalSteps);
            }
        }
        return new Sequential(out);
    }

    /** Lines naming each weighted layer and how it is held (for the command's report). */
    public static List<String> describe(Sequential model) {
        List<String> lines = new ArrayList<>();
        List<Layer> layers = model.layers();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            String what = l instanceof QatConv2d q ? "conv2d " + q.mode.lower() + detail(q)
                    : l instanceof QatLinear q ? "linear " + q.mode.lower() + detail(q)
                    : l instanceof Conv2d ? "conv2d f32" : l instanceof Linear ? "linear f32" : null;
            if (what != null) lines.add("layer " + i + ": " + what);
        }
        return lines;
    }

    private static String detail(QatLayer q) {
        return switch (q.mode) {
            case INT8 -> " (weights s8 per channel, input 8-bit per tensor)";
            case INT4 -> " (weights s4, groups of " + QuantMode.groupSize(q.fanIn()) + ", input f32)";
            case BINARY -> " (weights and input binary, ReSTE)";
        };
    }

    /** Runs {@code batches} training batches through {@code qat} without gradients, to set its input ranges. */
    public static void calibrate(Sequential qat, Batches data, int batches, int batchSize) {
        qat.train(true);
        try (NoGrad ng = NoGrad.enter()) {
            int[] order = data.order(0, 1);
            for (int b = 0; b < Math.min(batches, data.batches(batchSize)); b++) {
                try (Scope s = Scope.open()) {
                    Batches.Batch batch = data.batch(order, b, batchSize);
                    qat.forward(Tensor.of(batch.inputs(), batch.shape()));
                }
            }
        } finally {
            qat.train(false);
        }
    }

    /** The inference model: each fake-quantised layer of {@code qat} on the low-bit GEMM, the rest shared. */
    public static QuantizedModel convert(Sequential qat) {
        List<Layer> out = new ArrayList<>();
        try {
            for (Layer l : qat.layers())
                out.add(l instanceof QatConv2d c ? new QuantizedConv2d(c) : l instanceof QatLinear q ? new QuantizedLinear(q) : l);
        } catch (RuntimeException e) {
            new QuantizedModel(out).close();
            throw e;
        }
        return new QuantizedModel(out);
    }

    /** Accuracy of {@code model} over {@code data} in batches of {@code batchSize}, without gradients, timed. */
    public static Evaluation evaluate(Layer model, Batches data, int batchSize) {
        model.train(false);
        long correct = 0, start = System.nanoTime();
        try (NoGrad ng = NoGrad.enter()) {
            for (int b = 0; b < data.batches(batchSize); b++) {
                try (Scope s = Scope.open()) {
                    Batches.Batch batch = data.batch(null, b, batchSize);
                    int[] predicted = Losses.argmax(model.forward(Tensor.of(batch.inputs(), batch.shape())));
                    for (int i = 0; i < predicted.length; i++) if (predicted[i] == batch.labels()[i]) correct++;
                }
            }
        }
        return new Evaluation((double) correct / data.size(), (System.nanoTime() - start) / 1e9, data.size());
    }

    /** A trained f32 model and what its checkpoint says about it. */
    public record Loaded(String model, long seed, Sequential network, Map<String, String> metadata) {}

    /**
     * Loads the weights of an f32 checkpoint written by {@code kiln train} (optimiser state ignored). A QAT
     * checkpoint, an unknown model or tensors that do not fit the model are clear errors naming the file.
     */
    public static Loaded loadF32(Path checkpoint) throws IOException {
        Map<String, String> meta = Checkpoint.metadata(checkpoint);
        String where = "checkpoint " + checkpoint;
        if (meta.containsKey(METADATA_KEY))
            throw new IOException(where + ": was trained with --qat " + meta.get(METADATA_KEY) + "; quantize takes an f32 checkpoint");
        String model = meta.get("model");
        if (model == null || !Models.NAMES.contains(model))
            throw new IOException(where + ": holds model " + model + ", expected one of " + Models.NAMES);
        long seed;
        try {
            seed = Long.parseLong(meta.getOrDefault("seed", "0"));
        } catch (NumberFormatException e) {
            throw new IOException(where + ": metadata seed=" + meta.get("seed") + " is not a number");
        }
        Sequential net = Models.create(model, seed);
        try {
            Checkpoint.load(checkpoint, net, null);
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return new Loaded(model, seed, net, meta);
    }
}
