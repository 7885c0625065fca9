package dev.kiln.cuda;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Stream;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

/**
 * A CUstream of one {@link CudaDevice}. Created blocking ({@code CU_STREAM_DEFAULT}), so it orders
 * itself with the legacy default stream that {@link CudaBuffer}'s synchronous copies use: a copy issued
 * after a launch waits for it, and a launch after a copy sees the data. Kernel faults surface at the
 * next {@link #synchronize()} (or copy) as a {@link CudaException} naming the CUDA error.
 */
public final class CudaStream implements Stream {
    private final CudaDevice device;
    private final CUstream stream = new CUstream();
    private final boolean isDefault;
    private volatile boolean closed;

    CudaStream(CudaDevice device, boolean isDefault) {
        this.device = device;
        this.isDefault = isDefault;
        device.makeCurrent();
        CudaException.check("create a stream on " + device.name(), cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT));
    }

    @Override public Device device() { return device; }

    CUstream handle() {
        if (closed) throw new IllegalStateException("cuda: stream on " + device.name() + " is closed");
        return stream;
    }

    @Override public void synchronize() {
        device.makeCurrent();
        CudaException.check("synchronize a stream on " + device.name(), cuStreamSynchronize(handle()));
    }

    /**
     * Runs {@code work} (which enqueues on this stream) between two events and returns the GPU time between
     * them in milliseconds; waits for the work to finish. For benchmarks and autotuning.
     */
    public float time(Runnable work) {
        device.makeCurrent();
        CUevent start = new CUevent(), end = new CUevent();
        String op = "time work on " + device.name();
        CudaException.check(op, cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT));
        try {
            CudaException.check(op, cuEventCreate(end, CUevent_flags.CU_EVENT_DEFAULT));
            try {
                CudaException.check(op, cuEventRecord(start, handle()));
                work.run();
                CudaException.check(op, cuEventRecord(end, handle()));
                CudaException.check(op, cuEventSynchronize(end));
                float[] ms = new float[1];
                CudaException.check(op, cuEventElapsedTime(ms, start, end));
                return ms[0];
            } finally {
                cuEventDestroy(end);
            }
        } finally {
            cuEventDestroy(start);
        }
    }

    /** Waits for queued work and destroys the stream. The device's default stream closes only with the device. */
    @Override public void close() {
        if (isDefault || closed) return;
        device.forget(this);
        destroy();
    }

    void destroy() {
        if (closed) return;
        closed = true;
        device.makeCurrent();
        int sync = cuStreamSynchronize(stream);
        CudaException.check("destroy a stream on " + device.name(), cuStreamDestroy(stream));
        CudaException.check("synchronize a stream on " + device.name() + " before destroying it", sync);
    }

    @Override public String toString() {
        return "CudaStream[" + device.name() + (isDefault ? ", default" : "") + (closed ? ", closed" : "") + "]";
    }
}
