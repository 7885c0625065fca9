package dev.kiln.nn.optim;

/**
 * The learning rate as a function of the optimiser step (0 for the first update). Pure functions of the
 * step, so a resumed run continues the schedule exactly from the step count a checkpoint records.
 */
@FunctionalInterface
public interface LrSchedule {
    double at(long step);

    static LrSchedule constant(double lr) { return step -> lr; }

    /** lr * gamma^(step / every): decays by {@code gamma} every {@code every} steps. */
    static LrSchedule step(double lr, long every, double gamma) {
        if (every <= 0) throw new IllegalArgumentException("step schedule: interval must be > 0, got " + every);
        return step -> lr * Math.pow(gamma, step / every);
    }

    /** Cosine annealing from lr to minLr over {@code total} steps, then minLr. */
    static LrSchedule cosine(double lr, long total, double minLr) {
        if (total <= 0) throw new IllegalArgumentException("cosine schedule: total steps must be > 0, got " + total);
        return step -> step >= total ? minLr : minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * step / total));
    }

    /** Linear warm-up: {@code after.at(step) * (step + 1) / warmup} for the first {@code warmup} steps. */
    static LrSchedule warmup(long warmup, LrSchedule after) {
        if (warmup < 0) throw new IllegalArgumentException("warm-up: steps must be >= 0, got " + warmup);
        return step -> step < warmup ? after.at(step) * (step + 1) / warmup : after.at(step);
    }
}
