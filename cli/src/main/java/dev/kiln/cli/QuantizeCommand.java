package dev.kiln.cli;

import dev.kiln.nn.Devices;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.quant.QuantMode;
import dev.kiln.nn.quant.Quantization;
import dev.kiln.nn.quant.QuantizedCheckpoint;
import dev.kiln.nn.quant.QuantizedModel;
import dev.kiln.nn.train.Batches;
import dev.kiln.nn.train.Models;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code kiln quantize CKPT --to int8|int4}: post-training quantisation of a checkpoint written by
 * {@code kiln train}. Weights are quantised per output channel (int8) or per group (int4); int8 input
 * scales are calibrated on training batches. The test set then runs on the f32 model and on the quantised
 * one (low-bit GEMM kernels) in the same process, and the quantised model is written next to the
 * checkpoint. The last line printed is {@code test accuracy 0.XXXX} (the quantised model's).
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Post-training quantisation of a kiln train checkpoint: accuracy and speed against f32.")
public final class QuantizeCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin ThreadsOption threadsOption;

    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CKPT", description = "An f32 checkpoint written by kiln train.")
    Path checkpoint;

    @Option(names = "--to", required = true, paramLabel = "TYPE", description = "int8 or int4.")
    String to;

    @Option(names = "--data", description = "Folder with the IDX files (default: /usr/share/datasets/fashion-mnist).")
    Path data = FashionMnist.DEFAULT_DIR;

    @Option(names = "--calibration-batches", defaultValue = "32",
            description = "Training batches of 64 used to calibrate the int8 input scales (default: ${DEFAULT-VALUE}).")
    int calibrationBatches;

    @Option(names = "--limit", defaultValue = "0", description = "Use only the first N training and test images (0: all).")
    int limit;

    @Option(names = "--out", description = "Where to write the quantised model (default: CKPT with .TYPE.safetensors).")
    Path out;

    @Option(names = "--backend", description = "Force a backend (cpu, opencl, cuda); same as KILN_BACKEND.")
    void backend(String name) { System.setProperty("kiln.backend", name); }

    @Override public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        QuantMode mode;
        try {
            mode = QuantMode.parse(to);
        } catch (IllegalArgumentException e) {
            return usage(err, "--to: " + e.getMessage());
        }
        if (mode == QuantMode.BINARY) return usage(err, "--to binary needs training (kiln train --qat binary); quantize converts to int8 or int4");
        if (calibrationBatches < 1) return usage(err, "--calibration-batches must be >= 1, got " + calibrationBatches);
        if (limit < 0) return usage(err, "--limit must be >= 0, got " + limit);
        Quantization.Loaded loaded;
        try {
            loaded = Quantization.loadF32(checkpoint);
        } catch (IOException | IllegalArgumentException e) {
            err.println("kiln quantize: " + e.getMessage());
            return 1;
        }
        LabelledImages trainImages, testImages;
        try {
            trainImages = FashionMnist.train(data);
            testImages = FashionMnist.test(data);
        } catch (IOException e) {
            loaded.network().close();
            err.println("kiln quantize: cannot read the data set: " + e.getMessage());
            return 1;
        }
        boolean flat = Models.takesFlatInput(loaded.model());
        Batches train = new Batches(trainImages, limit, flat), test = new Batches(testImages, limit, flat);
        Batches warmUp = new Batches(testImages, Math.min(test.size(), 512), flat);
        Sequential f32 = loaded.network();
        Sequential qat = Quantization.qat(f32, mode, 1);
        try {
            o.printf(Locale.ROOT, "quantising %s (%s) to %s on %s (%s); calibration: %d batches of 64 training images%n", checkpoint,
                    loaded.model(), mode.lower(), Devices.current().backend(), Devices.current().name(), calibrationBatches);
            for (String line : Quantization.describe(qat)) o.println("  " + line);
            o.flush();
            Quantization.calibrate(qat, train, calibrationBatches, 64);
            try (QuantizedModel quantized = Quantization.convert(qat)) {
                Quantization.evaluate(f32, warmUp, 256);
                Quantization.Evaluation base = Quantization.evaluate(f32, test, 256);
                Quantization.Evaluation fake = Quantization.evaluate(qat, test, 256);
                Quantization.evaluate(quantized, warmUp, 256);
                Quantization.Evaluation real = Quantization.evaluate(quantized, test, 256);
                o.printf(Locale.ROOT, "f32:                 test accuracy %.4f, %.2f s, %.0f samples/s%n", base.accuracy(), base.seconds(), base.samplesPerSecond());
                o.printf(Locale.ROOT, "fake-quantised %s: test accuracy %.4f%n", mode.lower(), fake.accuracy());
                o.printf(Locale.ROOT, "%s (low-bit GEMM):  test accuracy %.4f, %.2f s, %.0f samples/s (%.2fx f32); accuracy %+.4f against f32%n",
                        mode.lower(), real.accuracy(), real.seconds(), real.samplesPerSecond(),
                        real.samplesPerSecond() / base.samplesPerSecond(), real.accuracy() - base.accuracy());
                Path target = out != null ? out : checkpoint.resolveSibling(stem(checkpoint.getFileName().toString()) + "." + mode.lower() + ".safetensors");
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("format", "kiln-quantized/1");
                meta.put("model", loaded.model());
                meta.put("quantization", mode.lower());
                meta.put("source", checkpoint.getFileName().toString());
                meta.put("test_accuracy", Double.toString(real.accuracy()));
                QuantizedCheckpoint.save(target, quantized, meta);
                o.println("wrote " + target);
                o.printf(Locale.ROOT, "test accuracy %.4f%n", real.accuracy());
                return 0;
            }
        } finally {
            qat.close();
            f32.close();
        }
    }

    private static String stem(String name) { return name.endsWith(".safetensors") ? name.substring(0, name.length() - ".safetensors".length()) : name; }

    private int usage(PrintWriter err, String message) {
        err.println("kiln quantize: " + message);
        err.println("Try 'kiln quantize --help'.");
        return 2;
    }
}
