package dev.kiln.nn.train;

/** What a {@link Trainer} reports while it runs, e.g. to draw a progress bar. Called on the training thread. */
public interface Progress {
    /** Nothing reported. */
    Progress NONE = (epoch, batch, batches, loss, accuracy, samplesPerSecond) -> {};

    /**
     * After each training step.
     *
     * @param epoch            the epoch, from 1
     * @param batch            batches done in this epoch, from 1
     * @param batches          batches in the epoch
     * @param loss             mean training loss per sample so far this epoch
     * @param accuracy         training accuracy so far this epoch, in [0, 1]
     * @param samplesPerSecond training throughput so far this epoch
     */
    void batch(int epoch, int batch, int batches, double loss, double accuracy, double samplesPerSecond);

    /** After each epoch's evaluation (a good moment to save a checkpoint). */
    default void epoch(EpochMetrics metrics) {}
}
