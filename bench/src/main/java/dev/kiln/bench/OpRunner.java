package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One descriptor of any op family ready to run repeatedly on resident operands: seeded f32 inputs (outputs
 * poisoned), copied to the device unless it computes in host memory, and a plan from the
 * backend's best supporting implementation (or the one named after a slash). For the benchmarks of op
 * families without a native peer ({@code kiln bench conv}, {@code elementwise}); the GEMM tables keep their
 * own runner. Close releases buffers and the plan on every path.
 */
final class OpRunner implements AutoCloseable {
    private final OpDesc desc;
    private final Plan plan;
    private final Args args = Args.of();
    private final Stream stream;
    private final List<AutoCloseable> owned = new ArrayList<>();

    OpRunner(String backend, Device device, OpDesc desc, long seed) throws Backends.Unavailable {
        this.desc = desc;
        Plan p = Backends.plan(device, backend, desc);
        owned.add(p);
        try {
            Map<Arg, HostBuffer> host = inputs(desc, seed);
            for (var e : host.entrySet()) {
                if (device.usesHostMemory()) {
                    args.put(e.getKey(), e.getValue());
                } else {
                    DeviceBuffer b = device.allocate(e.getValue().dtype(), e.getValue().count());
                    owned.add(b);
                    b.copyFrom(e.getValue().hostSegment());
                    args.put(e.getKey(), b);
                }
            }
            Kernels.validate(desc, args);
        } catch (RuntimeException | Error e) {
            closeAll(e);
            throw e;
        }
        plan = p;
        stream = device.defaultStream();
    }

    /**
     * Host buffers for every operand of {@code desc}, in {@link #owned}: the parity harness's seeded inputs,
     * valid for the op (saved statistics, pooling indices, sorted sparse structures), outputs poisoned, so a
     * kernel that writes nothing fails its check and no output starts as zeros that would flatter a timing.
     */
    private Map<Arg, HostBuffer> inputs(OpDesc desc, long seed) {
        Map<Arg, HostBuffer> host = Parity.inputs(desc, seed);
        owned.addAll(host.values());
        return host;
    }

    /** Runs the op once and waits for it. */
    void run() {
        plan.execute(stream, args);
        stream.synchronize();
    }

    String implementation() { return plan.implementation(); }

    /**
     * Compulsory memory traffic of one call in bytes: every operand read once and every result written once
     * (an in-out operand both), the floor a memory-bound kernel is measured against.
     */
    static double bytes(OpDesc desc) {
        double total = 0;
        for (ArgSpec a : desc.args()) total += (double) a.dtype().bytes(a.count()) * (a.access().reads() && a.access().writes() ? 2 : 1);
        return total;
    }

    /**
     * "ok" when {@code backend}'s implementation for {@code check} (a small descriptor of the same kind: the
     * reference is too slow for the benchmark's own sizes) matches the reference, else WRONG and why.
     */
    static String check(String backend, Device device, OpDesc check, long seed) {
        String wanted = backend.contains("/") ? backend.substring(backend.indexOf('/') + 1) : null;
        for (KernelImpl impl : device.implementations(check.kind())) {
            if (wanted != null && !impl.name().equals(wanted)) continue;
            if (!impl.supports(check).ok()) continue;
            ParityResult r = Parity.check(device, impl, check, seed);
            return r.passed() ? "ok" : "WRONG: " + r;
        }
        return "unchecked: no implementation takes " + check.opName() + " " + check.shape();
    }

    @Override public void close() { closeAll(null); }

    private void closeAll(Throwable into) {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (into != null) into.addSuppressed(e);
                else if (first == null) first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                else first.addSuppressed(e);
            }
        }
        owned.clear();
        if (first != null) throw first;
    }
}
