package dev.kiln.dispatch;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Stream;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The last resort: the reference kernels on host memory, as a device so that the fallback takes the same
 * path as any other choice (operands on a device are copied to the host and back). It is not a backend
 * and is not listed by {@link Dispatch#devices()}.
 */
final class HostFallback implements Device {
    static final String BACKEND = "host";

    /** A rough rate for the naive double-accumulating loops, used only by the copy-cost rule. */
    private static final double REF_GFLOPS = 1.0;

    private final Map<OpKind, List<KernelImpl>> impls = new EnumMap<>(OpKind.class);
    private final Stream stream = new Stream() {
        @Override public Device device() { return HostFallback.this; }

        @Override public void synchronize() {}

        @Override public void close() {}
    };

    HostFallback() {
        for (OpKind kind : OpKind.values()) impls.put(kind, List.of(RefKernels.impl(kind)));
    }

    @Override public String backend() { return BACKEND; }

    @Override public String name() { return "reference"; }

    @Override public DeviceKind kind() { return DeviceKind.CPU; }

    @Override public int priority() { return 0; }

    @Override public long memoryBytes() { return Runtime.getRuntime().maxMemory(); }

    @Override public Map<String, String> properties() { return Map.of("kernels", "reference (naive, double accumulation)"); }

    @Override public boolean usesHostMemory() { return true; }

    @Override public double estimatedGflops() { return REF_GFLOPS; }

    @Override public double copyBandwidthGBps() { return Double.POSITIVE_INFINITY; }

    @Override public List<KernelImpl> implementations(OpKind kind) { return impls.get(kind); }

    @Override public DeviceBuffer allocate(DType dtype, long count) { return HostBuffer.allocate(this, dtype, count); }

    @Override public Stream defaultStream() { return stream; }

    @Override public Stream newStream() { return stream; }

    @Override public void close() {}

    @Override public String toString() { return "host:reference"; }
}
