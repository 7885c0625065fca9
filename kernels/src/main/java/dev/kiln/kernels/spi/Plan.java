package dev.kiln.kernels.spi;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.OpDesc;

/**
 * A kernel chosen and prepared for one descriptor on one device: device code built, workspace sized.
 * {@link #execute} trusts its arguments (the facade validated them) and must be cheap and repeatable;
 * it may run asynchronously on the stream. Buffers in {@code args} belong to the plan's device.
 */
public interface Plan extends AutoCloseable {
    OpDesc desc();

    /** The implementation's name, e.g. {@code vector-gemm} or {@code ref}. */
    String implementation();

    void execute(Stream stream, Args args);

    /** Releases workspace and device code held by this plan. */
    @Override default void close() {}
}
