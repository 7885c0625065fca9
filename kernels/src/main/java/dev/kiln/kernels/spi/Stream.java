package dev.kiln.kernels.spi;

/**
 * An in-order queue of work on one device. {@link Plan#execute} may return before the work is done;
 * {@link #synchronize()} waits for all of it and rethrows the first asynchronous failure.
 */
public interface Stream extends AutoCloseable {
    Device device();

    void synchronize();

    /** Releases the queue; waits for queued work first. Closing twice is harmless. */
    @Override void close();
}
