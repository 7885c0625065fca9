package dev.kiln.cli;

import dev.kiln.nn.Devices;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.prune.PruneSpec;
import dev.kiln.nn.quant.QuantMode;
import dev.kiln.nn.train.EpochMetrics;
import dev.kiln.nn.train.Models;
import dev.kiln.nn.train.Progress;
import dev.kiln.nn.train.TrainConfig;
import dev.kiln.nn.train.Trainer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code kiln train}: trains the Fashion-MNIST CNN (or MLP) on the best backend found, writing metrics,
 * plots and a checkpoint per epoch to the run folder. The last line printed is {@code test accuracy 0.XXXX}.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a Fashion-MNIST classifier on the best backend found (or the one given).")
public final class TrainCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin ThreadsOption threadsOption;

    @Spec CommandSpec spec;

    @Option(names = "--model", defaultValue = "cnn", description = "cnn or mlp (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--epochs", defaultValue = "5", description = "Epochs in total (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd (momentum 0.9), adam or adamw (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--lr", description = "Learning rate (default: 0.01 for sgd, 0.001 for adam/adamw).")
    Double lr;

    @Option(names = "--schedule", defaultValue = "cosine",
            description = "Learning-rate schedule: constant, step (x0.1 after each third) or cosine (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0", description = "Linear warm-up over this many steps (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for weights and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--limit", defaultValue = "0", description = "Use only the first N training and test images (0: all).")
    int limit;

    @Option(names = "--backend", description = "Force a backend (cpu, opencl, cuda); same as KILN_BACKEND.")
    void backend(String name) { System.setProperty("kiln.backend", name); }

    @Option(names = "--data", description = "Folder with the IDX files (default: " + "/usr/share/datasets/fashion-mnist).")
    Path data = FashionMnist.DEFAULT_DIR;

    @Option(names = "--out", description = "Run folder for metrics, plots and checkpoints (default: runs/<timestamp>/).")
    Path out;

    @Option(names = "--resume", description = "Continue from a checkpoint written by an earlier run.")
    Path resume;

    @Option(names = "--json", description = "Also write the run's summary as JSON to this file.")
    Path json;

    @Option(names = "--profile", description = "Print where the time went per op family.")
    boolean profile;

    @Option(names = "--prune", paramLabel = "SPEC", description = "Prune while training: global:S (one magnitude threshold across layers, "
            + "each keeping >= 5%%), layer:S (S in every layer) or 2:4. Dense for the first 20%% of the steps, pruned gradually "
            + "(cubic) up to 60%%, fine-tuned after; then the test set runs on dense and on sparse kernels.")
    String prune;

    @Option(names = "--qat", paramLabel = "MODE", description = "Quantisation-aware training: int8, int4 or binary (first and last "
            + "layer f32); the test set then also runs on the truly quantised model (low-bit GEMM kernels).")
    String qat;

    @Override public Integer call() throws IOException {
        PrintWriter outWriter = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (!Models.NAMES.contains(model)) return usage(err, "--model must be one of " + Models.NAMES + ", got " + model);
        if (!TrainConfig.SCHEDULES.contains(schedule))
            return usage(err, "--schedule must be one of " + TrainConfig.SCHEDULES + ", got " + schedule);
        if (warmup < 0) return usage(err, "--warmup must be >= 0, got " + warmup);
        if (!TrainConfig.OPTIMIZERS.contains(optimizer))
            return usage(err, "--optimizer must be one of " + TrainConfig.OPTIMIZERS + ", got " + optimizer);
        PruneSpec pruneSpec = null;
        try {
            if (prune != null) pruneSpec = PruneSpec.parse(prune);
        } catch (IllegalArgumentException e) {
            return usage(err, "--" + e.getMessage()); // "--prune: sparsity 1.5 in ..."
        }
        QuantMode qatMode = null;
        try {
            if (qat != null) qatMode = QuantMode.parse(qat);
        } catch (IllegalArgumentException e) {
            return usage(err, "--qat: " + e.getMessage());
        }
        LabelledImages train, test;
        try {
            train = FashionMnist.train(data);
            test = FashionMnist.test(data);
        } catch (IOException e) {
            err.println("kiln train: cannot read the data set: " + e.getMessage());
            return 1;
        }
        Path run = out != null ? out : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(run);
        try (Trainer trainer = resume != null ? Trainer.resume(resume, epochs, train, test) : new Trainer(config(), train, test)) {
            TrainConfig c = trainer.config();
            if (pruneSpec != null) {
                String problem = PruneOutputs.enable(trainer, pruneSpec, resume != null);
                if (problem != null) return usage(err, problem);
            }
            if (qatMode != null) {
                String problem = QatOutputs.enable(trainer, qatMode, resume != null);
                if (problem != null) return usage(err, problem);
            }
            String backend = Devices.current().backend();
            outWriter.printf(Locale.ROOT, "training %s on %s (%s): %d epochs, batch %d, %s lr %s, seed %d, %d training images%n",
                    c.model(), backend, Devices.current().name(), c.epochs(), c.batchSize(), c.optimizer(), c.learningRate(), c.seed(),
                    limit > 0 ? Math.min(limit, train.count()) : train.count());
            if (trainer.pruner() != null) outWriter.println(PruneOutputs.describe(trainer.pruner(), trainer.stepsPerEpoch()));
            outWriter.flush();
            List<EpochMetrics> all = new ArrayList<>();
            long wallStart = System.nanoTime();
            while (trainer.epoch() < c.epochs()) {
                EpochMetrics m;
                try (ProgressBar bar = bar(trainer, c)) {
                    m = trainer.trainEpoch(progress(bar));
                }
                all.add(m);
                trainer.save(run.resolve("epoch-" + m.epoch() + ".safetensors"));
                outWriter.printf(Locale.ROOT, "epoch %d: train loss %.4f, train accuracy %.4f, test loss %.4f, test accuracy %.4f, %.1f s, %.0f samples/s%n",
                        m.epoch(), m.trainLoss(), m.trainAccuracy(), m.testLoss(), m.testAccuracy(), m.trainSeconds(), m.samplesPerSecond());
                outWriter.flush();
                TrainOutputs.writeMetrics(run, all);
            }
            double accuracy = all.isEmpty() ? trainer.evaluate().accuracy() : all.getLast().testAccuracy();
            if (trainer.pruner() != null) PruneOutputs.report(trainer, outWriter, run);
            if (trainer.qat() != null) QatOutputs.report(trainer, outWriter);
            TrainOutputs.writePlots(run, all, trainer.confusion());
            if (json != null) TrainOutputs.writeJson(json, backend, c.model(), all, accuracy);
            if (profile) TrainOutputs.printProfile(outWriter, trainer.profile(), (System.nanoTime() - wallStart) / 1e9);
            outWriter.println("run folder " + run.toAbsolutePath());
            outWriter.printf(Locale.ROOT, "test accuracy %.4f%n", accuracy);
            return 0;
        }
    }

    private TrainConfig config() {
        TrainConfig c = TrainConfig.defaults().withModel(model).withEpochs(epochs).withBatchSize(batch).withOptimizer(optimizer)
                .withSchedule(schedule, warmup).withSeed(seed).withLimit(limit).withProfile(profile);
        return lr != null ? c.withLr(lr) : c;
    }

    private ProgressBar bar(Trainer trainer, TrainConfig c) {
        return new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "epoch %d/%d", trainer.epoch() + 1, c.epochs()))
                .setInitialMax(trainer.stepsPerEpoch()).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).continuousUpdate().build();
    }

    private static Progress progress(ProgressBar bar) {
        return (epoch, batch, batches, loss, accuracy, samplesPerSecond) -> {
            bar.stepTo(batch);
            bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f acc %.3f %.0f/s", loss, accuracy, samplesPerSecond));
        };
    }

    private int usage(PrintWriter err, String message) {
        err.println("kiln train: " + message);
        err.println("Try 'kiln train --help'.");
        return 2;
    }
}
