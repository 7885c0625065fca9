package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * In-memory backends for dispatch tests. Host-memory fake devices compute on host buffers directly; a
 * device-memory fake keeps its buffers in separate arrays that only copies reach, and its kernels refuse
 * any buffer that is not its own, so a missing copy fails loudly. Every fake kernel computes with the
 * reference kernels, so results can be checked.
 */
final class Fakes {
    private Fakes() {}

    /** A provider whose probe and open do what the test says (including throwing). */
    static class FakeProvider implements BackendProvider {
        final String name;
        final Supplier<Probe> probe;
        final Supplier<List<Device>> open;
        final AtomicInteger opens = new AtomicInteger();

        FakeProvider(String name, Supplier<Probe> probe, Supplier<List<Device>> open) {
            this.name = name;
            this.probe = probe;
            this.open = open;
        }

        static FakeProvider of(String name, Device... devices) {
            return new FakeProvider(name, () -> Probe.ok("fake " + name), () -> List.of(devices));
        }

        @Override public String name() { return name; }

        @Override public Probe probe() { return probe.get(); }

        @Override public List<Device> open() {
            opens.incrementAndGet();
            return open.get();
        }
    }

    /** One fake kernel: says yes or no per descriptor, counts plans and runs. */
    static class FakeImpl implements KernelImpl {
        final String name;
        final OpKind kind;
        final Function<OpDesc, Support> supports;
        FakeDevice device;
        final AtomicInteger plans = new AtomicInteger();
        final AtomicInteger runs = new AtomicInteger();
        final AtomicInteger plansClosed = new AtomicInteger();
        volatile RuntimeException failWith;

        FakeImpl(String name, OpKind kind, Function<OpDesc, Support> supports) {
            this.name = name;
            this.kind = kind;
            this.supports = supports;
        }

        static FakeImpl yes(String name, OpKind kind) { return new FakeImpl(name, kind, d -> Support.YES); }

        @Override public String name() { return name; }

        @Override public OpKind kind() { return kind; }

        @Override public Support supports(OpDesc desc) { return supports.apply(desc); }

        @Override public Plan plan(OpDesc desc) {
            plans.incrementAndGet();
            return new Plan() {
                @Override public OpDesc desc() { return desc; }

                @Override public String implementation() { return name; }

                @Override public void execute(Stream stream, Args args) {
                    if (stream.device() != device) throw new AssertionError(name + ": stream of another device");
                    runs.incrementAndGet();
                    if (failWith != null) throw failWith;
                    RefKernels.run(desc, device.asHost(args));
                }

                @Override public void close() { plansClosed.incrementAndGet(); }
            };
        }
    }

    /** A fake device: host memory or its own memory, with the rates the cost model reads. */
    static final class FakeDevice implements Device {
        final String backend, name;
        final int priority;
        final boolean hostMemory;
        final double gflops, bandwidth;
        final Map<OpKind, List<KernelImpl>> impls = new EnumMap<>(OpKind.class);
        final AtomicInteger allocations = new AtomicInteger();
        final AtomicInteger bufferCloses = new AtomicInteger();
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger bytesIn = new AtomicInteger();
        final AtomicInteger bytesOut = new AtomicInteger();
        private final Stream stream = new Stream() {
            @Override public Device device() { return FakeDevice.this; }

            @Override public void synchronize() {}

            @Override public void close() {}
        };

        FakeDevice(String backend, String name, int priority, boolean hostMemory, double gflops, double bandwidth) {
            this.backend = backend;
            this.name = name;
            this.priority = priority;
            this.hostMemory = hostMemory;
            this.gflops = gflops;
            this.bandwidth = bandwidth;
        }

        /** A host-memory device (like the CPU backend). */
        static FakeDevice host(String backend, int priority, double gflops) {
            return new FakeDevice(backend, backend + "0", priority, true, gflops, Double.POSITIVE_INFINITY);
        }

        /** A device with its own memory (like a GPU). */
        static FakeDevice gpu(String backend, String name, int priority, double gflops, double bandwidth) {
            return new FakeDevice(backend, name, priority, false, gflops, bandwidth);
        }

        FakeDevice with(FakeImpl... list) {
            for (FakeImpl impl : list) {
                impl.device = this;
                impls.computeIfAbsent(impl.kind, k -> new ArrayList<>()).add(impl);
            }
            return this;
        }

        /** The operands as host views, after checking that the device can use each one in place. */
        Args asHost(Args args) {
            Args host = Args.of();
            for (Map.Entry<Arg, DeviceBuffer> e : args.asMap().entrySet()) {
                DeviceBuffer b = e.getValue();
                if (hostMemory) {
                    if (!b.isHost()) throw new AssertionError(name + ": operand " + e.getKey() + " is not in host memory");
                    host.put(e.getKey(), b);
                } else {
                    if (!(b instanceof FakeBuffer fb) || fb.device != this)
                        throw new AssertionError(name + ": operand " + e.getKey() + " is not in this device's memory: " + b);
                    host.put(e.getKey(), HostBuffer.wrap(MemorySegment.ofArray(fb.bytes), fb.dtype));
                }
            }
            return host;
        }

        int liveBuffers() { return allocations.get() - bufferCloses.get(); }

        @Override public String backend() { return backend; }

        @Override public String name() { return name; }

        @Override public DeviceKind kind() { return hostMemory ? DeviceKind.CPU : DeviceKind.GPU; }

        @Override public int priority() { return priority; }

        @Override public long memoryBytes() { return 1L << 30; }

        @Override public Map<String, String> properties() { return Map.of(); }

        @Override public boolean usesHostMemory() { return hostMemory; }

        @Override public double estimatedGflops() { return gflops; }

        @Override public double copyBandwidthGBps() { return bandwidth; }

        @Override public List<KernelImpl> implementations(OpKind kind) { return impls.getOrDefault(kind, List.of()); }

        @Override public DeviceBuffer allocate(DType dtype, long count) {
            allocations.incrementAndGet();
            if (hostMemory) {
                HostBuffer inner = HostBuffer.allocate(this, dtype, count);
                return new CountingHostBuffer(inner, this);
            }
            return new FakeBuffer(this, dtype, count);
        }

        @Override public Stream defaultStream() { return stream; }

        @Override public Stream newStream() { return stream; }

        @Override public void close() { closes.incrementAndGet(); }

        @Override public String toString() { return backend + ":" + name; }
    }

    /** Device memory of a fake device: a byte array reachable only through the copy methods. */
    static final class FakeBuffer implements DeviceBuffer {
        final FakeDevice device;
        final DType dtype;
        final long count;
        final byte[] bytes;
        boolean closed;

        FakeBuffer(FakeDevice device, DType dtype, long count) {
            this.device = device;
            this.dtype = dtype;
            this.count = count;
            this.bytes = new byte[Math.toIntExact(dtype.bytes(count))];
        }

        @Override public Device device() { return device; }

        @Override public DType dtype() { return dtype; }

        @Override public long count() { return count; }

        @Override public boolean isClosed() { return closed; }

        @Override public boolean isHost() { return false; }

        @Override public MemorySegment hostSegment() { throw new UnsupportedOperationException("device memory"); }

        @Override public void writeBytes(long byteOffset, MemorySegment src) {
            ensureOpen("writeBytes");
            device.bytesIn.addAndGet(Math.toIntExact(src.byteSize()));
            MemorySegment.copy(src, 0, MemorySegment.ofArray(bytes), byteOffset, src.byteSize());
        }

        @Override public void readBytes(long byteOffset, MemorySegment dst) {
            ensureOpen("readBytes");
            device.bytesOut.addAndGet(Math.toIntExact(dst.byteSize()));
            MemorySegment.copy(MemorySegment.ofArray(bytes), byteOffset, dst, 0, dst.byteSize());
        }

        @Override public void close() {
            if (closed) return;
            closed = true;
            device.bufferCloses.incrementAndGet();
        }

        @Override public String toString() { return "FakeBuffer[" + device + ", " + count + " " + dtype.lower() + "]"; }
    }

    /** A host buffer of a fake host device that counts its close, for the temporaries-closed checks. */
    static final class CountingHostBuffer implements DeviceBuffer {
        final HostBuffer inner;
        final FakeDevice device;

        CountingHostBuffer(HostBuffer inner, FakeDevice device) {
            this.inner = inner;
            this.device = device;
        }

        @Override public Device device() { return device; }

        @Override public DType dtype() { return inner.dtype(); }

        @Override public long count() { return inner.count(); }

        @Override public boolean isClosed() { return inner.isClosed(); }

        @Override public boolean isHost() { return true; }

        @Override public MemorySegment hostSegment() { return inner.hostSegment(); }

        @Override public void writeBytes(long byteOffset, MemorySegment src) { inner.writeBytes(byteOffset, src); }

        @Override public void readBytes(long byteOffset, MemorySegment dst) { inner.readBytes(byteOffset, dst); }

        @Override public void close() {
            if (inner.isClosed()) return;
            inner.close();
            device.bufferCloses.incrementAndGet();
        }
    }
}
