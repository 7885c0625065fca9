package dev.kiln.cli;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A real device whose kernels are made wrong on purpose: after each run, the first element of every output
 * is overwritten with 1000, so `verify` must report a failure. Closing it does not close the real device,
 * which belongs to dispatch.
 */
final class CorruptingDevice implements Device {
    private final Device inner;

    CorruptingDevice(Device inner) { this.inner = inner; }

    @Override public String backend() { return inner.backend(); }
    @Override public String name() { return "corrupted " + inner.name(); }
    @Override public DeviceKind kind() { return inner.kind(); }
    @Override public int priority() { return inner.priority(); }
    @Override public long memoryBytes() { return inner.memoryBytes(); }
    @Override public Map<String, String> properties() { return inner.properties(); }
    @Override public boolean usesHostMemory() { return inner.usesHostMemory(); }
    @Override public double estimatedGflops() { return inner.estimatedGflops(); }
    @Override public double copyBandwidthGBps() { return inner.copyBandwidthGBps(); }
    @Override public DeviceBuffer allocate(DType dtype, long count) { return inner.allocate(dtype, count); }
    @Override public Stream defaultStream() { return inner.defaultStream(); }
    @Override public Stream newStream() { return inner.newStream(); }
    @Override public void close() {}

    @Override public List<KernelImpl> implementations(OpKind kind) {
        List<KernelImpl> wrapped = new ArrayList<>();
        for (KernelImpl impl : inner.implementations(kind)) wrapped.add(new Impl(impl));
        return wrapped;
    }

    private record Impl(KernelImpl inner) implements KernelImpl {
        @Override public String name() { return "corrupted-" + inner.name(); }
        @Override public OpKind kind() { return inner.kind(); }
        @Override public Support supports(OpDesc desc) { return inner.supports(desc); }
        @Override public Plan plan(OpDesc desc) { return new Corrupting(inner.plan(desc)); }
    }

    private record Corrupting(Plan inner) implements Plan {
        @Override public OpDesc desc() { return inner.desc(); }
        @Override public String implementation() { return "corrupted-" + inner.implementation(); }
        @Override public void close() { inner.close(); }

        @Override public void execute(Stream stream, Args args) {
            inner.execute(stream, args);
            stream.synchronize();
            for (ArgSpec spec : desc().args()) {
                DeviceBuffer out = args.get(spec.arg());
                if (!spec.access().writes() || out == null || spec.count() == 0) continue;
                MemorySegment bad = switch (spec.dtype()) {
                    case F32 -> MemorySegment.ofArray(new float[] {1000f});
                    case F64 -> MemorySegment.ofArray(new double[] {1000.0});
                    case S32 -> MemorySegment.ofArray(new int[] {1000});
                    default -> null;
                };
                if (bad != null) out.writeBytes(0, bad);
            }
        }
    }
}
