package dev.kiln.kernels.spi;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;

import java.util.List;
import java.util.Map;

/** One compute device of a backend: its memory, its queues and the kernels it offers. */
public interface Device extends AutoCloseable {
    /** The backend's name, e.g. {@code cpu}, {@code opencl}, {@code cuda}. */
    String backend();

    /** The device's own name, e.g. the GPU model. */
    String name();

    DeviceKind kind();

    /** Dispatch ranks devices by this, highest first (CUDA GPU 300, OpenCL GPU 200, CPU 100, OpenCL CPU 50). */
    int priority();

    /** Total device memory in bytes, or the host's for host-memory devices. */
    long memoryBytes();

    /** Descriptive properties shown by {@code kiln info} (compute units, driver version, extensions...). */
    Map<String, String> properties();

    /** True when this device computes on host memory directly, so host operands need no copy. */
    boolean usesHostMemory();

    /** Rough sustained rate for dispatch's copy-versus-compute decision, in GFLOP/s. */
    double estimatedGflops();

    /** Host-device copy bandwidth in GB/s for the same decision; infinite for host-memory devices. */
    double copyBandwidthGBps();

    /** The implementations of {@code kind}, best first; empty if the device has none. */
    List<KernelImpl> implementations(OpKind kind);

    /** Yes if some implementation supports {@code desc}, else the reasons of all of them. */
    default Support supports(OpDesc desc) {
        List<KernelImpl> impls = implementations(desc.kind());
        if (impls.isEmpty()) return Support.no(backend() + " has no " + desc.kind().lower() + " kernels");
        StringBuilder why = new StringBuilder();
        for (KernelImpl impl : impls) {
            Support s = impl.supports(desc);
            if (s.ok()) return s;
            why.append(why.isEmpty() ? "" : "; ").append(impl.name()).append(": ").append(s.reason());
        }
        return Support.no(why.toString());
    }

    /** Allocates {@code count} elements of {@code dtype}; contents are unspecified. */
    DeviceBuffer allocate(DType dtype, long count);

    /** The device's default stream; never close it. */
    Stream defaultStream();

    Stream newStream();

    /** Releases the device's context, streams and cached memory. */
    @Override void close();
}
