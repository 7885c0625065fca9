package dev.kiln.nn.train;

/**
 * One epoch's results. Losses are mean cross-entropy per sample, accuracies fractions in [0, 1]; the test
 * values are NaN when the trainer has no test set. {@code trainSeconds} covers the training steps only
 * (not the evaluation).
 */
public record EpochMetrics(int epoch, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
                           double trainSeconds, double samplesPerSecond) {
    /** True when everything but the timings is bit-identical: what determinism promises. */
    public boolean sameResults(EpochMetrics o) {
        return epoch == o.epoch && Double.compare(trainLoss, o.trainLoss) == 0 && Double.compare(trainAccuracy, o.trainAccuracy) == 0
                && Double.compare(testLoss, o.testLoss) == 0 && Double.compare(testAccuracy, o.testAccuracy) == 0;
    }
}
