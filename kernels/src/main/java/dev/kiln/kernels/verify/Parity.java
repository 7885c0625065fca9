package dev.kiln.kernels.verify;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The parity harness every backend is tested with (and {@code kiln verify} runs): a device's kernel is run
 * on seeded random inputs and its outputs are compared with the reference kernels ({@link RefKernels})
 * within a tolerance declared per op ({@link #tolerance}).
 *
 * <p>One check: inputs are generated on the host (valid for the op: positive where it takes a log or a
 * square root, sorted sparse structures, saved forward values for backward passes), copied into buffers
 * from {@link Device#allocate}; outputs are poisoned (NaN, or an improbable s32) with a poisoned guard after
 * their end, INOUT outputs get random data. The kernel is planned, executed on the default stream and
 * synchronized; the outputs are copied back and compared with the reference's, which ran on host copies of
 * the same inputs. Every buffer and plan is closed on every path; a kernel that throws gives
 * {@link ParityResult.Status#FAILED} with its exception. The same seed gives the same inputs and verdict.
 */
public final class Parity {
    private Parity() {}

    /**
     * Deterministic descriptors for one op kind: awkward sizes (1, 2, 3, 7, 13, 17, 31, 33, 63, 127, 257 and
     * a few larger), transposes, leading dimensions above the minimum, batches, epilogues, and every
     * variant and pass of the family; at most {@code max} of them, spread over the whole list and always
     * including its larger case ({@code max <= 0}: all).
     */
    public static List<OpDesc> cases(OpKind kind, int max) {
        if (kind == null) throw new IllegalArgumentException("parity: op kind is null");
        return ParityCases.spread(ParityCases.all(kind), max);
    }

    /** Checks the device's first implementation that supports {@code desc}; UNSUPPORTED with the device's reasons if none. */
    public static ParityResult check(Device device, OpDesc desc, long seed) {
        requireArgs(device, desc);
        for (KernelImpl impl : device.implementations(desc.kind()))
            if (impl.supports(desc).ok()) return check(device, impl, desc, seed);
        return new ParityResult(desc, deviceName(device), "-", seed, ParityResult.Status.UNSUPPORTED, Double.NaN,
                device.supports(desc).reason());
    }

    /** Checks one given implementation of the device (to force a variant or a vector width). */
    public static ParityResult check(Device device, KernelImpl impl, OpDesc desc, long seed) {
        requireArgs(device, desc);
        if (impl == null) throw new IllegalArgumentException("parity: implementation is null for " + desc.opName());
        String dev = deviceName(device), name = impl.name();
        Support support = impl.supports(desc);
        if (!support.ok())
            return new ParityResult(desc, dev, name, seed, ParityResult.Status.UNSUPPORTED, Double.NaN, support.reason());
        String head = desc.opName() + " " + desc.shape() + " on " + dev + " with " + name + ", seed " + seed + ": ";
        Closer closer = new Closer();
        ParityResult result;
        try {
            result = run(device, impl, desc, seed, head, closer);
        } catch (Throwable t) {
            try {
                closer.close();
            } catch (RuntimeException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
        try {
            closer.close();
        } catch (RuntimeException e) {
            return failed(desc, dev, name, seed, Double.NaN, head + "releasing buffers failed: " + e);
        }
        return result;
    }

    private static ParityResult run(Device device, KernelImpl impl, OpDesc desc, long seed, String head, Closer closer) {
        String dev = deviceName(device), name = impl.name();
        Map<Arg, HostBuffer> inputs;
        Map<Arg, MemorySegment> expected;
        Map<Arg, MemorySegment> magnitude = null;
        Tolerance tol = tolerance(desc);
        try {
            inputs = ParityInputs.generate(desc, seed, closer);
            expected = runReference(desc, inputs, closer);
            if (!tol.isExact()) magnitude = ParityTolerances.magnitudes(desc, inputs, closer);
        } catch (RuntimeException | AssertionError e) {
            return failed(desc, dev, name, seed, Double.NaN, head + "reference failed: " + e);
        }
        Map<Arg, MemorySegment> got;
        try {
            got = runDevice(device, impl, desc, inputs, closer);
        } catch (RuntimeException | AssertionError | LinkageError e) {
            try {
                device.defaultStream().synchronize(); // let queued work finish before its buffers are freed
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
            return failed(desc, dev, name, seed, Double.POSITIVE_INFINITY, head + "device run failed: " + e);
        }
        ParityCompare.Outcome outcome = ParityCompare.compare(desc, tol, got, expected, magnitude);
        if (outcome.detail() != null) return failed(desc, dev, name, seed, outcome.worstError(), head + outcome.detail());
        return new ParityResult(desc, dev, name, seed, ParityResult.Status.PASSED, outcome.worstError(), "");
    }

    /**
     * The harness's seeded inputs for {@code desc} (every operand, outputs poisoned), as host buffers the
     * caller owns and closes: for benchmarks, which time a kernel on the data its check ran on.
     */
    public static Map<Arg, HostBuffer> inputs(OpDesc desc, long seed) {
        if (desc == null) throw new IllegalArgumentException("parity: descriptor is null");
        Closer closer = new Closer();
        try {
            return ParityInputs.generate(desc, seed, closer);
        } catch (RuntimeException | Error e) {
            closer.close();
            throw e;
        }
    }

    /** The tolerance of {@code desc}'s floating-point outputs; integer outputs are always compared exactly. */
    public static Tolerance tolerance(OpDesc desc) {
        if (desc == null) throw new IllegalArgumentException("parity: descriptor is null");
        return ParityTolerances.of(desc);
    }

    /** The reference's outputs on host copies of the inputs (outputs start as the same poison or INOUT data). */
    private static Map<Arg, MemorySegment> runReference(OpDesc desc, Map<Arg, HostBuffer> inputs, Closer closer) {
        Args args = Args.of();
        Map<Arg, MemorySegment> outputs = new EnumMap<>(Arg.class);
        for (ArgSpec spec : desc.args()) {
            HostBuffer src = inputs.get(spec.arg());
            HostBuffer copy = closer.add(HostBuffer.allocate(null, spec.dtype(), src.count()));
            copy.hostSegment().copyFrom(src.hostSegment());
            args.put(spec.arg(), copy);
            if (spec.access().writes()) outputs.put(spec.arg(), copy.hostSegment());
        }
        RefKernels.run(desc, args);
        return outputs;
    }

    /** Runs the implementation on device copies of the inputs; returns host copies of its outputs. */
    private static Map<Arg, MemorySegment> runDevice(Device device, KernelImpl impl, OpDesc desc, Map<Arg, HostBuffer> inputs,
                                                     Closer closer) {
        Args args = Args.of();
        for (ArgSpec spec : desc.args()) {
            HostBuffer src = inputs.get(spec.arg());
            DeviceBuffer buf = closer.add(device.allocate(spec.dtype(), src.count()));
            buf.copyFrom(src.hostSegment());
            args.put(spec.arg(), buf);
        }
        Kernels.validate(desc, args); // the harness passes what the facade would: a kernel may trust it
        Plan plan = closer.add(impl.plan(desc));
        plan.execute(device.defaultStream(), args);
        device.defaultStream().synchronize();
        Map<Arg, MemorySegment> got = new EnumMap<>(Arg.class);
        for (ArgSpec spec : desc.args()) {
            if (!spec.access().writes()) continue;
            DeviceBuffer buf = args.get(spec.arg());
            HostBuffer back = closer.add(HostBuffer.allocate(null, spec.dtype(), buf.count()));
            buf.copyTo(back.hostSegment());
            got.put(spec.arg(), back.hostSegment());
        }
        return got;
    }

    private static ParityResult failed(OpDesc desc, String dev, String impl, long seed, double worst, String message) {
        return new ParityResult(desc, dev, impl, seed, ParityResult.Status.FAILED, worst, message);
    }

    private static String deviceName(Device device) { return device.backend() + ":" + device.name(); }

    private static void requireArgs(Device device, OpDesc desc) {
        if (desc == null) throw new IllegalArgumentException("parity: descriptor is null");
        if (device == null) throw new IllegalArgumentException("parity: device is null for " + desc.opName() + " " + desc.shape());
    }
}
