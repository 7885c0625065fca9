package dev.kiln.opencl;

import dev.kiln.kernels.spi.Stream;
import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_event;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One in-order OpenCL command queue. Kernels are enqueued without waiting; {@link #synchronize()} is
 * clFinish and turns a failed command into {@link OpenClException}. The device's default stream also
 * carries the blocking buffer copies and is released only by {@link OpenClDevice#close()}.
 *
 * <p>A profiling queue keeps each launch's event until the next synchronize, which reads the kernel's
 * device time (CL_PROFILING_COMMAND_START to END), adds it to the device's totals, prints it when tracing
 * ({@code opencl kernel gemm_f32[8x32k256] 1.234 ms}) and releases the event. Reading at synchronize keeps
 * launches asynchronous; past {@link #MAX_PENDING} events the stream finishes and reads early.
 */
public final class OpenClStream implements Stream {
    static final int MAX_PENDING = 4096;

    private record Timed(String label, cl_event event) {}

    private final OpenClDevice device;
    private final cl_command_queue queue;
    private final boolean isDefault;
    private final boolean profiling;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final List<Timed> pending = new ArrayList<>();
    private long lastKernelNanos;

    OpenClStream(OpenClDevice device, cl_command_queue queue, boolean isDefault, boolean profiling) {
        this.device = device;
        this.queue = queue;
        this.isDefault = isDefault;
        this.profiling = profiling;
    }

    @Override public OpenClDevice device() { return device; }

    /** True when the queue was created with CL_QUEUE_PROFILING_ENABLE: launches are then timed. */
    boolean profiling() { return profiling; }

    /** The queue, for enqueueing; throws {@link IllegalStateException} once released. */
    cl_command_queue queue() {
        if (closed.get()) throw new IllegalStateException("opencl: stream on " + device.name() + " is closed");
        return queue;
    }

    /** Takes ownership of a launch's event (released when read, or when the stream is released). */
    void timed(String label, cl_event event) {
        boolean full;
        synchronized (pending) {
            pending.add(new Timed(label, event));
            full = pending.size() >= MAX_PENDING;
        }
        if (full) synchronize();
    }

    @Override public void synchronize() {
        OpenClException.check(CL.clFinish(queue()), "clFinish", null);
        drain();
    }

    /** Device nanoseconds of the kernels read by the last synchronize (0 without profiling). */
    long lastKernelNanos() {
        synchronized (pending) {
            return lastKernelNanos;
        }
    }

    /** Reads and releases every pending event; the queue has finished. */
    private void drain() {
        List<Timed> done;
        synchronized (pending) {
            if (pending.isEmpty() && !profiling) return;
            done = List.copyOf(pending);
            pending.clear();
        }
        long total = 0;
        RuntimeException first = null;
        boolean trace = !done.isEmpty() && ClTrace.enabled();
        for (Timed t : done) {
            try {
                long start = profilingInfo(t, CL.CL_PROFILING_COMMAND_START), end = profilingInfo(t, CL.CL_PROFILING_COMMAND_END);
                long nanos = Math.max(0, end - start);
                total += nanos;
                device.kernelTimes().add(nanos);
                if (trace) ClTrace.line(String.format(Locale.ROOT, "opencl kernel %s %.3f ms", t.label(), nanos * 1e-6));
            } catch (RuntimeException e) {
                if (first == null) first = e;
            } finally {
                release(t.event());
            }
        }
        synchronized (pending) {
            lastKernelNanos = total;
        }
        if (first != null) throw first;
    }

    private static long profilingInfo(Timed t, int param) {
        long[] v = new long[1];
        OpenClException.check(CL.clGetEventProfilingInfo(t.event(), param, Sizeof.cl_ulong, Pointer.to(v), null),
                "clGetEventProfilingInfo", t.label());
        return v[0];
    }

    private static void release(cl_event e) {
        if (CL.clReleaseEvent(e) == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.EVENT);
    }

    /** clFinish even when the device is closing (no open check); for the device's orderly shutdown. */
    void finish() {
        if (!closed.get()) {
            OpenClException.check(CL.clFinish(queue), "clFinish", null);
            drain();
        }
    }

    /** Waits for queued work and releases the queue; the default stream is left to the device. */
    @Override public void close() {
        if (isDefault) return;
        release();
        device.forget(this);
    }

    /** Finishes (best effort: a failed finish must not leak the queue) and releases the queue and its events once. */
    void release() {
        if (!closed.compareAndSet(false, true)) return;
        int finish = CL.clFinish(queue);
        synchronized (pending) {
            for (Timed t : pending) release(t.event());
            pending.clear();
        }
        int rc = CL.clReleaseCommandQueue(queue);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.QUEUE);
        OpenClException.check(finish, "clFinish", null);
        OpenClException.check(rc, "clReleaseCommandQueue", null);
    }

    @Override public String toString() { return "OpenClStream[" + device.name() + (isDefault ? ", default" : "") + "]"; }
}
