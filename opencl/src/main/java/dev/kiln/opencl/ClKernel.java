package dev.kiln.opencl;

import dev.kiln.kernels.spi.DeviceBuffer;
import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_event;
import org.jocl.cl_kernel;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One cl_kernel with its launch. Setting arguments and enqueueing happen under this object's lock, as
 * OpenCL kernel objects keep their arguments as shared state. Arguments are Integer (int), Long (long),
 * Float (float), Double (double) or an {@link OpenClBuffer} (its cl_mem), in the order of the .cl signature.
 * On a profiling stream each launch takes an event, handed to the stream for its device time.
 */
final class ClKernel implements AutoCloseable {
    private final OpenClDevice device;
    private final cl_kernel kernel;
    private final String name;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile String label;

    ClKernel(OpenClDevice device, cl_kernel kernel, String name) {
        this.device = device;
        this.kernel = kernel;
        this.name = name;
        this.label = name;
        device.track(this);
    }

    String name() { return name; }

    /** The name in kernel-time traces, e.g. {@code gemm_f32[8x32k256]}; the kernel name unless set. */
    String label() { return label; }

    ClKernel labelled(String label) {
        this.label = label;
        return this;
    }

    OpenClDevice device() { return device; }

    /** The largest work-group this kernel can run with on its device (register use can make it less than the device's). */
    long maxWorkGroupSize() {
        long[] v = new long[1];
        OpenClException.check(CL.clGetKernelWorkGroupInfo(kernel, device.id(), CL.CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t,
                Pointer.to(v), null), "clGetKernelWorkGroupInfo", name);
        return v[0];
    }

    /** Enqueues over {@code global} work-items (1 to 3 dimensions, none zero), work-group size left to the driver. */
    void launch(OpenClStream stream, long[] global, Object... args) { launch(stream, global, null, args); }

    /** Enqueues with an explicit work-group size {@code local} (null: the driver's choice); each global extent must be a multiple. */
    synchronized void launch(OpenClStream stream, long[] global, long[] local, Object... args) {
        if (closed.get()) throw new IllegalStateException("opencl: kernel " + name + " was released (plan or device closed)");
        for (long g : global) assert g > 0 : name + ": empty launch must be skipped by the caller";
        for (int i = 0; i < args.length; i++) {
            int rc = switch (args[i]) {
                case Integer v -> CL.clSetKernelArg(kernel, i, Sizeof.cl_int, Pointer.to(new int[] {v}));
                case Long v -> CL.clSetKernelArg(kernel, i, Sizeof.cl_long, Pointer.to(new long[] {v}));
                case Float v -> CL.clSetKernelArg(kernel, i, Sizeof.cl_float, Pointer.to(new float[] {v}));
                case Double v -> CL.clSetKernelArg(kernel, i, Sizeof.cl_double, Pointer.to(new double[] {v}));
                case OpenClBuffer b -> CL.clSetKernelArg(kernel, i, Sizeof.cl_mem, Pointer.to(b.mem(name)));
                default -> throw new IllegalArgumentException("opencl: kernel " + name + " argument " + i + " has unsupported type "
                        + args[i].getClass().getSimpleName());
            };
            if (rc != CL.CL_SUCCESS) throw new OpenClException("clSetKernelArg(" + i + ")", name, rc, null);
        }
        cl_event event = stream.profiling() ? new cl_event() : null;
        int rc = CL.clEnqueueNDRangeKernel(stream.queue(), kernel, global.length, null, global, local, 0, null, event);
        OpenClException.check(rc, "clEnqueueNDRangeKernel", name);
        if (event != null) {
            ClLive.created(ClLive.Kind.EVENT);
            stream.timed(label, event);
        }
    }

    /** The OpenCL buffer behind an operand; a buffer of another device or the host is a caller error. */
    static OpenClBuffer buffer(DeviceBuffer b, OpenClDevice device, String what) {
        if (b instanceof OpenClBuffer ob && ob.device() == device) return ob;
        throw new IllegalArgumentException("opencl: " + what + " must be a buffer allocated on " + device.name() + ", got " + b);
    }

    @Override public void close() {
        device.forget(this);
        release();
    }

    /** Releases the cl_kernel once; the device calls this directly when it closes. */
    void release() {
        if (!closed.compareAndSet(false, true)) return;
        int rc = CL.clReleaseKernel(kernel);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.KERNEL);
        OpenClException.check(rc, "clReleaseKernel", name);
    }
}
