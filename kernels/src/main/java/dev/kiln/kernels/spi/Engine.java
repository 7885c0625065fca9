package dev.kiln.kernels.spi;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.OpDesc;

/**
 * What runs ops behind the {@link dev.kiln.kernels.Kernels} facade. The dispatch module provides one
 * through {@link java.util.ServiceLoader}; without it the facade runs the reference kernels on the host.
 * {@link #execute} receives validated arguments and returns when the outputs are written.
 */
public interface Engine {
    String name();

    void execute(OpDesc desc, Args args);
}
