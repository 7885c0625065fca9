package dev.kiln.kernels.spi;

import java.util.List;

/**
 * A backend, found through {@link java.util.ServiceLoader}. {@link #probe()} must not load native classes
 * when the native library is missing (look the library up with FFM first, or catch {@link LinkageError}
 * in isolation): a machine without a GPU gets a one-line reason, never a crash.
 */
public interface BackendProvider {
    String name();

    /** Cheap check that the backend can run here; called before {@link #open()}. */
    Probe probe();

    /** Opens every usable device of this backend; called only after a successful probe. */
    List<Device> open();
}
