package dev.kiln.nn.train;

import dev.kiln.nn.BufferPool;
import dev.kiln.nn.Losses;
import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Profiler;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.optim.Adam;
import dev.kiln.nn.optim.GradClip;
import dev.kiln.nn.optim.LrSchedule;
import dev.kiln.nn.optim.Optimizer;
import dev.kiln.nn.optim.Sgd;
import dev.kiln.nn.prune.PruneSchedule;
import dev.kiln.nn.prune.PruneSpec;
import dev.kiln.nn.prune.Pruner;
import dev.kiln.nn.quant.QuantMode;
import dev.kiln.nn.quant.Quantization;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a {@link Models} network on a labelled image set with cross-entropy, one {@link Scope} per step so
 * every activation and temporary is freed when the step ends. Everything runs through dispatch, on the
 * device {@link dev.kiln.nn.Devices} chose; the trainer knows nothing of specific layers.
 *
 * <p>Determinism: the initial weights come from the seed, each epoch's order from (seed, epoch), and the
 * learning rate from the optimiser's step count, so on a deterministic backend (the CPU kernels at a fixed
 * thread count) two runs with one configuration give bit-identical metrics, and a run resumed from a
 * checkpoint continues exactly as if it had not stopped.
 */
public final class Trainer implements AutoCloseable {
    /** Batch size for evaluation (no gradients, so larger batches cost little memory). */
    public static final int EVAL_BATCH = 256;

    /** Mean loss and accuracy over a data set. */
    public record Evaluation(double loss, double accuracy, int samples) {}

    private final TrainConfig config;
    private final Batches train, test;
    /** Replaced once by its fake-quantised twin ({@link #enableQat}), which shares the weight tensors. */
    private Sequential model;
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private final List<EpochMetrics> history = new ArrayList<>();
    private int epoch;
    /** Gradual magnitude pruning, or null for a dense run ({@link #enablePruning}). */
    private Pruner pruner;
    /** Quantisation-aware training, or null for an f32 run ({@link #enableQat}). */
    private QuantMode qat;

    /**
     * A fresh run: the model initialised from the seed, the optimiser's state zero.
     *
     * @param test the evaluation set, or null for none (test metrics are then NaN)
     */
    public Trainer(TrainConfig config, LabelledImages train, LabelledImages test) {
        if (config == null || train == null) throw new IllegalArgumentException("trainer: config and training data are required");
        this.config = config;
        boolean flat = Models.takesFlatInput(config.model());
        if (train.height() != 28 || train.width() != 28)
            throw new IllegalArgumentException("trainer: the models take 28x28 images, got " + train.height() + "x" + train.width());
        this.train = new Batches(train, config.limit(), flat);
        this.test = test == null ? null : new Batches(test, config.limit(), flat);
        this.model = Models.create(config.model(), config.seed());
        this.optimizer = switch (config.optimizer()) {
            case "sgd" -> new Sgd(model.parameters(), config.learningRate(), config.momentum(), config.decay(), false);
            case "adam" -> new Adam(model.parameters(), config.learningRate(), 0.9, 0.999, 1e-8, config.decay(), false);
            default -> new Adam(model.parameters(), config.learningRate(), 0.9, 0.999, 1e-8, config.decay(), true);
        };
        this.schedule = schedule(config, stepsPerEpoch());
        if (config.profile()) {
            Profiler.reset();
            Profiler.enable(true);
        }
    }

    static LrSchedule schedule(TrainConfig c, int stepsPerEpoch) {
        long total = (long) c.epochs() * stepsPerEpoch;
        double lr = c.learningRate();
        LrSchedule s = switch (c.schedule()) {
            case "step" -> LrSchedule.step(lr, Math.max(1, total / 3), 0.1);
            case "cosine" -> LrSchedule.cosine(lr, total, 0);
            default -> LrSchedule.constant(lr);
        };
        return c.warmupSteps() > 0 ? LrSchedule.warmup(c.warmupSteps(), s) : s;
    }

    /**
     * Continues the run saved in {@code checkpoint} with its own configuration, up to {@code epochs} in
     * total (0: the saved total).
     */
    public static Trainer resume(Path checkpoint, int epochs, LabelledImages train, LabelledImages test) throws IOException {
        TrainConfig saved = TrainConfig.fromMetadata(Checkpoint.metadata(checkpoint), "checkpoint " + checkpoint);
        Trainer t = new Trainer(epochs > 0 ? saved.withEpochs(epochs) : saved, train, test);
        try {
            String qat = Checkpoint.metadata(checkpoint).get(Quantization.METADATA_KEY);
            if (qat != null) t.enableQat(QuantMode.parse(qat));
            t.load(checkpoint);
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    public TrainConfig config() { return config; }

    public Sequential model() { return model; }

    public Optimizer optimizer() { return optimizer; }

    /** Epochs completed (including those before a resume). */
    public int epoch() { return epoch; }

    /** Metrics of the epochs this trainer ran (not those before a resume). */
    public List<EpochMetrics> history() { return List.copyOf(history); }

    public int stepsPerEpoch() { return train.batches(config.batchSize()); }

    /** Runs the remaining epochs up to {@code config.epochs()}. */
    public List<EpochMetrics> fit(Progress progress) {
        try {
            return fit(progress, null);
        } catch (IOException e) {
            throw new IllegalStateException("unreachable: no checkpoint is written", e);
        }
    }

    /** Runs the remaining epochs, saving a checkpoint to {@code checkpoint} (unless null) after each. */
    public List<EpochMetrics> fit(Progress progress, Path checkpoint) throws IOException {
        if (progress == null) progress = Progress.NONE;
        List<EpochMetrics> out = new ArrayList<>();
        while (epoch < config.epochs()) {
            EpochMetrics m = trainEpoch(progress);
            out.add(m);
            if (checkpoint != null) save(checkpoint);
            progress.epoch(m);
        }
        return out;
    }

    /** Trains one epoch, evaluates on the test set and returns the epoch's metrics. */
    public EpochMetrics trainEpoch(Progress progress) {
        if (progress == null) progress = Progress.NONE;
        int e = epoch + 1, batches = stepsPerEpoch();
        int[] order = train.order(config.seed(), e);
        model.train(true);
        double lossSum = 0;
        long correct = 0, seen = 0;
        long start = System.nanoTime();
        for (int b = 0; b < batches; b++) {
            try (Scope step = Scope.open()) {
                Batches.Batch batch;
                Tensor x;
                try (Profiler.Timer t = Profiler.section(Profiler.Family.DATA)) {
                    batch = train.batch(order, b, config.batchSize());
                    x = Tensor.of(batch.inputs(), batch.shape());
                }
                Tensor logits = model.forward(x);
                Tensor loss = Losses.crossEntropy(logits, batch.labels());
                loss.backward();
                lossSum += (double) loss.item() * batch.size();
                correct += matches(Losses.argmax(logits), batch.labels());
                seen += batch.size();
                try (Profiler.Timer t = Profiler.section(Profiler.Family.OPTIMIZER)) {
                    if (pruner != null) pruner.beforeStep(optimizer.steps(), optimizer);
                    if (config.clipNorm() > 0) GradClip.clipGlobalNorm(optimizer.parameters(), config.clipNorm());
                    optimizer.setLearningRate(schedule.at(optimizer.steps()));
                    optimizer.step();
                    if (pruner != null) pruner.afterStep(optimizer);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            progress.batch(e, b + 1, batches, lossSum / seen, (double) correct / seen, seen / Math.max(seconds, 1e-9));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Evaluation ev = test == null ? new Evaluation(Double.NaN, Double.NaN, 0) : evaluate(test);
        epoch = e;
        EpochMetrics m = new EpochMetrics(e, lossSum / seen, (double) correct / seen, ev.loss(), ev.accuracy(), seconds,
                seen / Math.max(seconds, 1e-9));
        history.add(m);
        return m;
    }

    /** Loss and accuracy on the test set (limited like training), in batches of {@link #EVAL_BATCH}, without gradients. */
    public Evaluation evaluate() {
        if (test == null) throw new IllegalStateException("trainer: no test set was given");
        return evaluate(test, null);
    }

    /** The test set's confusion matrix: {@code [true label][predicted label]} counts. */
    public int[][] confusion() {
        if (test == null) throw new IllegalStateException("trainer: no test set was given");
        int[][] counts = new int[FashionMnist.CLASSES][FashionMnist.CLASSES];
        evaluate(test, counts);
        return counts;
    }

    /**
     * As {@link #evaluate()}, with {@code forward} in place of the model's own forward pass (e.g. the pruned
     * model on sparse kernels, {@link dev.kiln.nn.prune.SparseInference}); the model is still switched to
     * evaluation mode around it.
     */
    public Evaluation evaluate(java.util.function.UnaryOperator<Tensor> forward) {
        if (test == null) throw new IllegalStateException("trainer: no test set was given");
        return evaluate(test, null, forward);
    }

    private Evaluation evaluate(Batches data) { return evaluate(data, null); }

    private Evaluation evaluate(Batches data, int[][] confusion) { return evaluate(data, confusion, model::forward); }

    private Evaluation evaluate(Batches data, int[][] confusion, java.util.function.UnaryOperator<Tensor> forward) {
        model.train(false);
        double lossSum = 0;
        long correct = 0;
        try (NoGrad ng = NoGrad.enter()) {
            for (int b = 0; b < data.batches(EVAL_BATCH); b++) {
                try (Scope s = Scope.open()) {
                    Batches.Batch batch = data.batch(null, b, EVAL_BATCH);
                    Tensor logits = forward.apply(Tensor.of(batch.inputs(), batch.shape()));
                    lossSum += (double) Losses.crossEntropy(logits, batch.labels()).item() * batch.size();
                    int[] predicted = Losses.argmax(logits);
                    correct += matches(predicted, batch.labels());
                    if (confusion != null) for (int i = 0; i < predicted.length; i++) confusion[batch.labels()[i]][predicted[i]]++;
                }
            }
        } finally {
            model.train(true);
        }
        return new Evaluation(lossSum / data.size(), (double) correct / data.size(), data.size());
    }

    private static int matches(int[] predicted, int[] labels) {
        int n = 0;
        for (int i = 0; i < labels.length; i++) if (predicted[i] == labels[i]) n++;
        return n;
    }

    /** Time per op family since the trainer started; all zero unless {@code config.profile()}. */
    public Map<Profiler.Family, Profiler.Totals> profile() { return Profiler.snapshot(); }

    /**
     * Saves weights, optimiser state, the configuration, the completed epoch count and the seed (which with
     * the epoch determines every later shuffle) atomically to {@code file}.
     */
    public void save(Path file) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("model", config.model());
        meta.put("epoch", Integer.toString(epoch));
        meta.put("seed", Long.toString(config.seed()));
        meta.put("shuffle", "Fisher-Yates per epoch with SplittableRandom(seed ^ 0x9E3779B97F4A7C15 * (epoch + 1))");
        meta.putAll(config.toMetadata());
        if (!history.isEmpty()) {
            EpochMetrics last = history.getLast();
            meta.put("train_loss", Double.toString(last.trainLoss()));
            meta.put("test_accuracy", Double.toString(last.testAccuracy()));
        }
        if (pruner != null) meta.putAll(pruner.metadata());
        if (qat != null) meta.put(Quantization.METADATA_KEY, qat.lower());
        Checkpoint.save(file, model, optimizer, meta, pruner == null ? List.of() : pruner.masks());
    }

    /**
     * Loads a checkpoint of the same model and optimiser into this trainer and continues from its epoch.
     * The seed must match, since it fixes the shuffles still to come.
     */
    public void load(Path file) throws IOException {
        Map<String, String> meta = Checkpoint.metadata(file);
        String where = "checkpoint " + file;
        if (!config.model().equals(meta.get("model")))
            throw new IOException(where + ": holds model " + meta.get("model") + ", this run trains " + config.model());
        if (!Long.toString(config.seed()).equals(meta.get("seed")))
            throw new IOException(where + ": was trained with seed " + meta.get("seed") + ", this run has seed " + config.seed()
                    + " (the seed fixes the remaining shuffles, so resuming needs the same one)");
        int saved;
        try {
            saved = Integer.parseInt(meta.get("epoch"));
        } catch (NumberFormatException e) {
            throw new IOException(where + ": metadata epoch=" + meta.get("epoch") + " is not a number");
        }
        String savedQat = meta.get(Quantization.METADATA_KEY), thisQat = qat == null ? null : qat.lower();
        if (!java.util.Objects.equals(savedQat, thisQat))
            throw new IOException(where + ": holds " + (savedQat == null ? "an f32 run" : "a --qat " + savedQat + " run") + ", this run is "
                    + (thisQat == null ? "f32" : "--qat " + thisQat));
        if (Pruner.inMetadata(meta) && pruner == null) pruner = Pruner.fromMetadata(meta, model.parameters(), where);
        else if (!Pruner.inMetadata(meta) && pruner != null)
            throw new IOException(where + ": holds a dense run, this run prunes (" + pruner.spec() + ")");
        Checkpoint.load(file, model, optimizer, pruner == null ? List.of() : pruner.masks());
        if (pruner != null) pruner.masksLoaded();
        epoch = saved;
    }

    /**
     * Prunes this run's weights by {@code spec} on the default schedule ({@link PruneSchedule#forRun}: dense
     * for the first 20% of the steps, pruning up to 60%, fine-tuning after). Call before training starts.
     */
    public void enablePruning(PruneSpec spec) {
        if (epoch > 0 || optimizer.steps() > 0)
            throw new IllegalStateException("trainer: pruning must be enabled before training starts (epoch " + epoch + ")");
        if (pruner != null) pruner.close();
        pruner = new Pruner(model.parameters(), spec, PruneSchedule.forRun(spec.sparsity(), (long) config.epochs() * stepsPerEpoch()));
    }

    /**
     * Trains with fake quantisation: the model becomes its {@link Quantization#qat} twin, sharing the f32
     * weights the optimiser already holds. Call before training starts.
     */
    public void enableQat(QuantMode mode) {
        if (epoch > 0 || optimizer.steps() > 0 || qat != null)
            throw new IllegalStateException("trainer: quantisation-aware training must be enabled once, before training starts");
        model = Quantization.qat(model, mode, config.epochs() * stepsPerEpoch());
        qat = mode;
    }

    /** The quantisation-aware training mode, or null for an f32 run. */
    public QuantMode qat() { return qat; }

    /** The run's pruner, or null for a dense run. */
    public Pruner pruner() { return pruner; }

    @Override public void close() {
        if (config.profile()) Profiler.enable(false);
        if (pruner != null) pruner.close();
        optimizer.close();
        model.close();
        BufferPool.clear();
    }
}
