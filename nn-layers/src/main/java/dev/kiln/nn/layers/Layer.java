package dev.kiln.nn.layers;

import dev.kiln.nn.Tensor;

import java.util.List;

/**
 * A differentiable function with parameters. Layers own their parameters' device memory and release it
 * in {@link #close()}. Training code sees only this interface.
 */
public interface Layer extends AutoCloseable {
    Tensor forward(Tensor x);

    /** Trainable parameters, in a stable order (checkpoints and optimisers rely on it). */
    default List<Parameter> parameters() { return List.of(); }

    /**
     * State that is not trained but belongs in a checkpoint (batch norm's running statistics), named like
     * parameters and in a stable order.
     */
    default List<Parameter> buffers() { return List.of(); }

    /** Switches training-only behaviour (dropout, batch statistics); most layers ignore it. */
    default void train(boolean training) {}

    @Override default void close() {
        for (Parameter p : parameters()) p.tensor().close();
        for (Parameter b : buffers()) b.tensor().close();
    }
}
