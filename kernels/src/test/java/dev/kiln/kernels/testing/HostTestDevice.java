package dev.kiln.kernels.testing;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Stream;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A device for tests: host memory, synchronous streams, and the implementations a test gives it (by default
 * the reference kernels). It counts allocations and closes of its buffers, so a test can show that
 * everything it handed out came back.
 */
public final class HostTestDevice implements Device {
    private final Function<OpKind, List<KernelImpl>> implementations;
    private final AtomicInteger allocated = new AtomicInteger(), released = new AtomicInteger();
    private final Stream stream = new SyncStream();
    private volatile boolean closed;

    /** The reference kernels for every op kind. */
    public HostTestDevice() { this(kind -> List.of(RefKernels.impl(kind))); }

    public HostTestDevice(Function<OpKind, List<KernelImpl>> implementations) { this.implementations = implementations; }

    /** Buffers allocated so far. */
    public int allocations() { return allocated.get(); }

    /** Buffers closed so far (a buffer closed twice counts once). */
    public int closes() { return released.get(); }

    public boolean isClosed() { return closed; }

    @Override public String backend() { return "host-test"; }

    @Override public String name() { return "host memory"; }

    @Override public DeviceKind kind() { return DeviceKind.CPU; }

    @Override public int priority() { return 0; }

    @Override public long memoryBytes() { return Runtime.getRuntime().maxMemory(); }

    @Override public Map<String, String> properties() { return Map.of("purpose", "tests of the parity harness"); }

    @Override public boolean usesHostMemory() { return true; }

    @Override public double estimatedGflops() { return 0.1; }

    @Override public double copyBandwidthGBps() { return Double.POSITIVE_INFINITY; }

    @Override public List<KernelImpl> implementations(OpKind kind) { return implementations.apply(kind); }

    @Override public DeviceBuffer allocate(DType dtype, long count) {
        if (closed) throw new IllegalStateException("host-test device is closed");
        CountedBuffer b = new CountedBuffer(HostBuffer.allocate(this, dtype, count));
        allocated.incrementAndGet();
        return b;
    }

    @Override public Stream defaultStream() { return stream; }

    @Override public Stream newStream() { return new SyncStream(); }

    @Override public void close() { closed = true; }

    private final class SyncStream implements Stream {
        @Override public Device device() { return HostTestDevice.this; }

        @Override public void synchronize() { }

        @Override public void close() { }
    }

    /** A host buffer that reports its close to the device. */
    private final class CountedBuffer implements DeviceBuffer {
        private final HostBuffer host;

        CountedBuffer(HostBuffer host) { this.host = host; }

        @Override public Device device() { return HostTestDevice.this; }

        @Override public DType dtype() { return host.dtype(); }

        @Override public long count() { return host.count(); }

        @Override public boolean isClosed() { return host.isClosed(); }

        @Override public boolean isHost() { return true; }

        @Override public MemorySegment hostSegment() { return host.hostSegment(); }

        @Override public void writeBytes(long byteOffset, MemorySegment src) { host.writeBytes(byteOffset, src); }

        @Override public void readBytes(long byteOffset, MemorySegment dst) { host.readBytes(byteOffset, dst); }

        @Override public void close() {
            if (host.isClosed()) return;
            host.close();
            released.incrementAndGet();
        }

        @Override public String toString() { return "host-test " + host; }
    }
}
