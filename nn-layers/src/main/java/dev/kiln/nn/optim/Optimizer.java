package dev.kiln.nn.optim;

import dev.kiln.nn.layers.Parameter;

import java.util.List;
import java.util.Map;

/**
 * Updates parameters from their accumulated gradients. Updates run as ordinary ops on the parameters'
 * device, inside their own scope and {@link dev.kiln.nn.NoGrad}, so they free their temporaries at once.
 *
 * <p>State (momentum, moments) is allocated when the optimiser is made, as zeros; a zero initial state
 * gives the same first update, bit for bit, as creating it on the first step would. {@link #state()}
 * returns the current tensors under stable names, so a checkpoint can save them and write them back; a
 * step may replace them, so ask again after each step.
 */
public interface Optimizer extends AutoCloseable {
    /** {@code sgd}, {@code adam} or {@code adamw}: the name checkpoints record. */
    String name();

    /** Applies one update from the accumulated gradients, then clears them. Parameters without a gradient are left alone. */
    void step();

    /** Drops every parameter's gradient. */
    void zeroGrad();

    double learningRate();

    /** Sets the rate for the following steps (schedules call this before each step). */
    void setLearningRate(double lr);

    /** Updates applied so far (Adam's bias correction and the schedules depend on it). */
    long steps();

    /** Restores the step count after {@link #state()} tensors were written back from a checkpoint. */
    void setSteps(long steps);

    /** The fixed hyper-parameters besides the learning rate, by name, for checkpoint metadata. */
    Map<String, Double> hyperParameters();

    /** The optimised parameters, in the order given at construction. */
    List<Parameter> parameters();

    /**
     * The current state tensors, e.g. {@code momentum.0.weight}, {@code exp_avg.0.weight}; empty for plain SGD.
     * Writing into them (with {@link dev.kiln.nn.Tensor#set}) changes the optimiser's state; valid until the next step.
     */
    List<Parameter> state();

    /** Releases the state tensors (not the parameters). */
    @Override void close();

    /** Clears the gradients of {@code params}; the shared implementation of {@link #zeroGrad()}. */
    static void zeroGrads(List<Parameter> params) {
        for (Parameter p : params) p.tensor().zeroGrad();
    }
}
