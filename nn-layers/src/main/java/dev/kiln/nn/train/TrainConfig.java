package dev.kiln.nn.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything that determines a training run. A NaN {@code lr} or {@code weightDecay} means the optimiser's
 * default ({@link #learningRate()}, {@link #decay()}).
 *
 * @param model       {@code cnn} or {@code mlp} ({@link Models})
 * @param epochs      total epochs of the run (a resumed run continues up to this)
 * @param batchSize   training batch size; the last batch of an epoch keeps the remainder
 * @param optimizer   {@code sgd} (momentum {@code momentum}), {@code adam} or {@code adamw}
 * @param lr          base learning rate; NaN: 0.01 for sgd, 1e-3 for adam and adamw
 * @param momentum    SGD momentum (ignored by Adam)
 * @param weightDecay NaN: 0 for sgd and adam, 0.01 for adamw (decoupled)
 * @param schedule    {@code constant}, {@code step} (x0.1 after each third of the steps) or {@code cosine} (to 0)
 * @param warmupSteps linear warm-up over this many steps (0: none)
 * @param clipNorm    clip gradients to this global L2 norm (0: no clipping)
 * @param seed        fixes the initial weights and every epoch's shuffle
 * @param limit       use only the first {@code limit} training and test samples (0: all), for quick runs
 * @param profile     collect a per-op-family time profile ({@link dev.kiln.nn.Profiler})
 */
public record TrainConfig(String model, int epochs, int batchSize, String optimizer, double lr, double momentum,
                          double weightDecay, String schedule, int warmupSteps, double clipNorm, long seed, int limit,
                          boolean profile) {
    public static final List<String> OPTIMIZERS = List.of("sgd", "adam", "adamw");
    public static final List<String> SCHEDULES = List.of("constant", "step", "cosine");

    public TrainConfig {
        String bad = null;
        if (!Models.NAMES.contains(model)) bad = "model " + model + " is not one of " + Models.NAMES;
        else if (!OPTIMIZERS.contains(optimizer)) bad = "optimizer " + optimizer + " is not one of " + OPTIMIZERS;
        else if (!SCHEDULES.contains(schedule)) bad = "schedule " + schedule + " is not one of " + SCHEDULES;
        else if (epochs < 1) bad = "epochs must be >= 1, got " + epochs;
        else if (batchSize < 1) bad = "batch size must be >= 1, got " + batchSize;
        else if (!Double.isNaN(lr) && !(lr > 0)) bad = "learning rate must be > 0, got " + lr;
        else if (!(momentum >= 0 && momentum < 1)) bad = "momentum must be in [0, 1), got " + momentum;
        else if (!Double.isNaN(weightDecay) && !(weightDecay >= 0)) bad = "weight decay must be >= 0, got " + weightDecay;
        else if (warmupSteps < 0) bad = "warm-up steps must be >= 0, got " + warmupSteps;
        else if (!(clipNorm >= 0)) bad = "clip norm must be >= 0, got " + clipNorm;
        else if (limit < 0) bad = "limit must be >= 0, got " + limit;
        if (bad != null) throw new IllegalArgumentException("train: " + bad);
    }

    /**
     * The run {@code kiln train} does with no options: cnn, 5 epochs, batch 64, SGD lr 0.01 momentum 0.9 and a
     * cosine decay of the learning rate to zero over the run (measured on Fashion-MNIST: 91.3% after 5 epochs,
     * against 90.3% with a constant rate; bench/RESULTS.md).
     */
    public static TrainConfig defaults() {
        return new TrainConfig("cnn", 5, 64, "sgd", Double.NaN, 0.9, Double.NaN, "cosine", 0, 0, 42, 0, false);
    }

    /** The base learning rate with the optimiser's default filled in. */
    public double learningRate() { return !Double.isNaN(lr) ? lr : optimizer.equals("sgd") ? 0.01 : 1e-3; }

    /** The weight decay with the optimiser's default filled in. */
    public double decay() { return !Double.isNaN(weightDecay) ? weightDecay : optimizer.equals("adamw") ? 0.01 : 0; }

    public TrainConfig withModel(String model) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withEpochs(int epochs) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withBatchSize(int batchSize) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    /** Also resets lr and weight decay to that optimiser's defaults unless set afterwards. */
    public TrainConfig withOptimizer(String optimizer) { return new TrainConfig(model, epochs, batchSize, optimizer, Double.NaN, momentum, Double.NaN, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withLr(double lr) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withMomentum(double momentum) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withWeightDecay(double weightDecay) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withSchedule(String schedule, int warmupSteps) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withClipNorm(double clipNorm) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withSeed(long seed) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withLimit(int limit) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    public TrainConfig withProfile(boolean profile) { return new TrainConfig(model, epochs, batchSize, optimizer, lr, momentum, weightDecay, schedule, warmupSteps, clipNorm, seed, limit, profile); }

    /** The fields as checkpoint metadata, {@code config.NAME} to a string; {@link #fromMetadata} reverses it. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("config.model", model);
        m.put("config.epochs", Integer.toString(epochs));
        m.put("config.batch_size", Integer.toString(batchSize));
        m.put("config.optimizer", optimizer);
        m.put("config.lr", Double.toString(lr));
        m.put("config.momentum", Double.toString(momentum));
        m.put("config.weight_decay", Double.toString(weightDecay));
        m.put("config.schedule", schedule);
        m.put("config.warmup_steps", Integer.toString(warmupSteps));
        m.put("config.clip_norm", Double.toString(clipNorm));
        m.put("config.seed", Long.toString(seed));
        m.put("config.limit", Integer.toString(limit));
        m.put("config.profile", Boolean.toString(profile));
        return m;
    }

    /** The configuration a checkpoint was written with; {@code where} names the file in errors. */
    public static TrainConfig fromMetadata(Map<String, String> m, String where) {
        try {
            return new TrainConfig(get(m, "model"), Integer.parseInt(get(m, "epochs")), Integer.parseInt(get(m, "batch_size")),
                    get(m, "optimizer"), Double.parseDouble(get(m, "lr")), Double.parseDouble(get(m, "momentum")),
                    Double.parseDouble(get(m, "weight_decay")), get(m, "schedule"), Integer.parseInt(get(m, "warmup_steps")),
                    Double.parseDouble(get(m, "clip_norm")), Long.parseLong(get(m, "seed")), Integer.parseInt(get(m, "limit")),
                    Boolean.parseBoolean(get(m, "profile")));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException(where + ": bad training configuration in the metadata: " + e.getMessage(), e);
        }
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get("config." + key);
        if (v == null) throw new IllegalArgumentException("config." + key + " is missing");
        return v;
    }
}
