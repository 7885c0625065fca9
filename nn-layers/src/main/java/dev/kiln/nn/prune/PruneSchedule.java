package dev.kiln.nn.prune;

/**
 * Gradual pruning (Zhu and Gupta 2017, "To prune, or not to prune"): the target sparsity rises from
 * {@code initial} to {@code target} along the cubic
 * <pre>  s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3,   t0 <= t <= t0 + n dt = end </pre>
 * fast at first, while many redundant weights remain, and slowly near the end. Masks are recomputed every
 * {@code every} optimiser steps from {@code start} up to and including {@code end}; after {@code end} the
 * final mask is kept and training fine-tunes the surviving weights.
 *
 * @param initial s_i, the sparsity at {@code start} (normally 0)
 * @param target  s_f, the sparsity reached at {@code end}
 * @param start   t0, the first optimiser step (0-based, counted before the step's update) that prunes
 * @param end     the last pruning step, where the sparsity reaches {@code target}
 * @param every   dt, the steps between mask updates
 */
public record PruneSchedule(double initial, double target, long start, long end, long every) {
    /** Fraction of the run trained dense before pruning starts: the weights need to mean something first. */
    public static final double START_FRACTION = 0.2;
    /** Fraction of the run at which the final sparsity is reached; the remaining 40% fine-tunes with it. */
    public static final double END_FRACTION = 0.6;
    /** Mask updates over the pruning span (Zhu and Gupta prune every 100 or so steps; we fix the count instead). */
    public static final int UPDATES = 16;

    public PruneSchedule {
        if (!(initial >= 0 && initial < 1) || !(target >= 0 && target < 1) || initial > target)
            throw new IllegalArgumentException("prune schedule: need 0 <= initial <= target < 1, got initial=" + initial + " target=" + target);
        if (start < 0 || end < start || every < 1)
            throw new IllegalArgumentException("prune schedule: need 0 <= start <= end and every >= 1, got start=" + start + " end=" + end
                    + " every=" + every);
    }

    /**
     * The default split of a run of {@code totalSteps} optimiser steps: dense for the first 20%, pruning up to
     * 60% in {@link #UPDATES} steps of the cubic, then 40% of fine-tuning with the final mask. For the default
     * 5-epoch run that is one dense epoch, two pruning epochs and two fine-tuning epochs; the cosine learning
     * rate is then already below half its peak while the last weights go, and the fine-tuning epochs run at
     * the small rates that recover accuracy best.
     */
    public static PruneSchedule forRun(double target, long totalSteps) {
        if (totalSteps < 1) throw new IllegalArgumentException("prune schedule: the run has no steps (" + totalSteps + ")");
        long start = Math.round(START_FRACTION * totalSteps);
        long end = Math.max(start, Math.min(totalSteps - 1, Math.round(END_FRACTION * totalSteps)));
        return new PruneSchedule(0, target, start, end, Math.max(1, (end - start) / UPDATES));
    }

    /** Whether the masks are recomputed before the update of optimiser step {@code step}. */
    public boolean prunesAt(long step) {
        return step >= start && step <= end && ((step - start) % every == 0 || step == end);
    }

    /** s_t: 0 before {@code start}, the cubic in between, {@code target} from {@code end} on. */
    public double sparsityAt(long step) {
        if (step < start) return 0;
        if (step >= end) return target;
        double remaining = 1 - (double) (step - start) / (end - start);
        return target + (initial - target) * remaining * remaining * remaining;
    }
}
