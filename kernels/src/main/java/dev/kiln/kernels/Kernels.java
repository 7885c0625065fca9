package dev.kiln.kernels;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.ref.RefEngine;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Engine;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The public entry point for every op: {@code Kernels.execute(desc, args)}. All validation happens here,
 * once: every operand the descriptor names must be present, open, of the right dtype and large enough,
 * nothing else may be passed, and outputs must not overlap any other operand. A rejected call throws
 * before anything is written. Execution goes to the {@link Engine} found on the class path (the dispatch
 * module), or to the reference kernels when there is none.
 */
public final class Kernels {
    private Kernels() {}

    private static final class Holder {
        static final Engine ENGINE = ServiceLoader.load(Engine.class).findFirst().orElseGet(RefEngine::new);
    }

    /** The engine behind the facade: dispatch when present, else the reference engine. */
    public static Engine engine() { return Holder.ENGINE; }

    /** Validates and runs one op; returns when its outputs are written. */
    public static void execute(OpDesc desc, Args args) {
        validate(desc, args);
        engine().execute(desc, args);
    }

    /** The checks {@link #execute} makes, for engines and tools that run ops themselves. */
    public static void validate(OpDesc desc, Args args) {
        if (desc == null) throw new IllegalArgumentException("execute: descriptor is null");
        String op = desc.opName();
        if (args == null) throw new IllegalArgumentException(op + ": args is null");
        List<ArgSpec> specs = desc.args();
        for (Map.Entry<Arg, DeviceBuffer> e : args.asMap().entrySet()) {
            if (!takes(specs, e.getKey()))
                throw new IllegalArgumentException(op + ": unexpected argument " + e.getKey() + " (takes " + roles(specs) + ")");
        }
        for (ArgSpec spec : specs) {
            DeviceBuffer buf = args.get(spec.arg());
            if (buf != null && !buf.isClosed() && buf.dtype() == spec.dtype() && buf.count() >= spec.count()) continue;
            String name = op + ": argument " + spec.arg(); // built only on failure: this runs on every call
            if (buf == null)
                throw new IllegalArgumentException(name + " is missing: needs " + spec.count() + " " + spec.dtype().lower()
                        + " elements (" + spec.rule() + "); " + desc.shape());
            if (buf.isClosed())
                throw new IllegalStateException(name + " is a closed buffer (" + buf.count() + " " + buf.dtype().lower() + ")");
            if (buf.dtype() != spec.dtype())
                throw new IllegalArgumentException(name + " is " + buf.dtype().lower() + ", expected " + spec.dtype().lower()
                        + "; " + desc.shape());
            if (buf.count() < spec.count())
                throw new IllegalArgumentException(name + " has " + buf.count() + " " + buf.dtype().lower() + " elements, needs "
                        + spec.count() + " (" + spec.rule() + "); " + desc.shape());
        }
        for (ArgSpec out : specs) {
            if (!out.access().writes()) continue;
            DeviceBuffer o = args.get(out.arg());
            for (ArgSpec other : specs) {
                if (other == out) continue;
                DeviceBuffer b = args.get(other.arg());
                if (overlap(o, out.dtype().bytes(out.count()), b, other.dtype().bytes(other.count())))
                    throw new IllegalArgumentException(op + ": output " + out.arg() + " overlaps argument " + other.arg()
                            + " (outputs may not alias other operands)");
            }
        }
    }

    /** {@code desc.spec(arg) != null} on specs built once: descriptors compute their specs on every call. */
    private static boolean takes(List<ArgSpec> specs, Arg arg) {
        for (ArgSpec s : specs) if (s.arg() == arg) return true;
        return false;
    }

    private static boolean overlap(DeviceBuffer a, long aBytes, DeviceBuffer b, long bBytes) {
        if (a == b) return aBytes > 0 && bBytes > 0;
        if (!a.isHost() || !b.isHost() || aBytes == 0 || bBytes == 0) return false;
        MemorySegment sa = a.hostSegment().asSlice(0, aBytes), sb = b.hostSegment().asSlice(0, bBytes);
        return sa.asOverlappingSlice(sb).isPresent();
    }

    private static String roles(List<ArgSpec> specs) {
        StringBuilder sb = new StringBuilder();
        for (ArgSpec s : specs) sb.append(sb.isEmpty() ? "" : ", ").append(s.arg());
        return sb.toString();
    }
}
