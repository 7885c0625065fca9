package dev.kiln.opencl;

import dev.kiln.kernels.spi.Stream;
import org.jocl.CL;
import org.jocl.cl_command_queue;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One in-order OpenCL command queue. Kernels are enqueued without waiting; {@link #synchronize()} is
 * clFinish and turns a failed command into {@link OpenClException}. The device's default stream also
 * carries the blocking buffer copies and is released only by {@link OpenClDevice#close()}.
 */
public final class OpenClStream implements Stream {
    private final OpenClDevice device;
    private final cl_command_queue queue;
    private final boolean isDefault;
    private final AtomicBoolean closed = new AtomicBoolean();

    OpenClStream(OpenClDevice device, cl_command_queue queue, boolean isDefault) {
        this.device = device;
        this.queue = queue;
        this.isDefault = isDefault;
    }

    @Override public OpenClDevice device() { return device; }

    /** The queue, for enqueueing; throws {@link IllegalStateException} once released. */
    cl_command_queue queue() {
        if (closed.get()) throw new IllegalStateException("opencl: stream on " + device.name() + " is closed");
        return queue;
    }

    @Override public void synchronize() {
        OpenClException.check(CL.clFinish(queue()), "clFinish", null);
    }

    /** clFinish even when the device is closing (no open check); for the device's orderly shutdown. */
    void finish() {
        if (!closed.get()) OpenClException.check(CL.clFinish(queue), "clFinish", null);
    }

    /** Waits for queued work and releases the queue; the default stream is left to the device. */
    @Override public void close() {
        if (isDefault) return;
        release();
        device.forget(this);
    }

    /** Finishes (best effort: a failed finish must not leak the queue) and releases the queue once. */
    void release() {
        if (!closed.compareAndSet(false, true)) return;
        int finish = CL.clFinish(queue);
        int rc = CL.clReleaseCommandQueue(queue);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.QUEUE);
        OpenClException.check(finish, "clFinish", null);
        OpenClException.check(rc, "clReleaseCommandQueue", null);
    }

    @Override public String toString() { return "OpenClStream[" + device.name() + (isDefault ? ", default" : "") + "]"; }
}
