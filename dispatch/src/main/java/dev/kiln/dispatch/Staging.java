package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a plan on its device with operands that may live elsewhere: each such operand gets a temporary on
 * the device sized to exactly what the descriptor needs, inputs (and in-out outputs) are copied in, the
 * plan runs, the stream is drained, outputs are copied back, and the temporaries are closed on every
 * path. Operands the device can use in place are passed through untouched.
 */
final class Staging {
    private Staging() {}

    /** One operand that was staged: the caller's buffer and its temporary on the device. */
    private record Staged(ArgSpec spec, DeviceBuffer caller, DeviceBuffer temp) {}

    /** Runs {@code plan} on {@code device}; {@code specs} are the descriptor's operands, in its order. */
    static void run(Device device, List<ArgSpec> specs, Plan plan, Args args) {
        if (allUsable(device, specs, args)) { // the common case: no temporaries, no copy of the argument map
            Stream stream = device.defaultStream();
            plan.execute(stream, args);
            stream.synchronize();
            return;
        }
        Args local = Args.of();
        List<Staged> staged = new ArrayList<>();
        Stream stream = device.defaultStream();
        Throwable failure = null;
        try {
            for (ArgSpec spec : specs) {
                DeviceBuffer b = args.get(spec.arg());
                if (b == null || Placement.Where.of(b).usableOn(device)) {
                    local.put(spec.arg(), b);
                    continue;
                }
                DeviceBuffer temp = device.allocate(spec.dtype(), spec.count());
                staged.add(new Staged(spec, b, temp));
                if (spec.access().reads()) copy(b, temp, spec.dtype().bytes(spec.count()));
                local.put(spec.arg(), temp);
            }
            plan.execute(stream, local);
            stream.synchronize();
            for (Staged s : staged)
                if (s.spec.access().writes()) copy(s.temp, s.caller, s.spec.dtype().bytes(s.spec.count()));
        } catch (Throwable t) {
            failure = t;
            throw t;
        } finally {
            release(stream, staged, failure);
        }
    }

    private static boolean allUsable(Device device, List<ArgSpec> specs, Args args) {
        for (ArgSpec spec : specs) {
            DeviceBuffer b = args.get(spec.arg());
            if (b != null && !Placement.Where.of(b).usableOn(device)) return false;
        }
        return true;
    }

    /**
     * After a failure the stream may still be running on the temporaries, so it is drained before they
     * are freed; errors while cleaning up are attached to the original failure, never hide it.
     */
    private static void release(Stream stream, List<Staged> staged, Throwable failure) {
        Throwable first = null;
        if (failure != null && !staged.isEmpty()) {
            try {
                stream.synchronize();
            } catch (Throwable t) {
                failure.addSuppressed(t);
            }
        }
        for (Staged s : staged) {
            try {
                s.temp.close();
            } catch (Throwable t) {
                if (failure != null) failure.addSuppressed(t);
                else if (first == null) first = t;
                else first.addSuppressed(t);
            }
        }
        if (first instanceof RuntimeException re) throw re;
        if (first instanceof Error e) throw e;
    }

    /** Copies the first {@code bytes} bytes; through a host bounce buffer when neither side is host memory. */
    static void copy(DeviceBuffer src, DeviceBuffer dst, long bytes) {
        if (bytes == 0) return;
        if (src.isHost()) {
            dst.writeBytes(0, src.hostSegment().asSlice(0, bytes));
        } else if (dst.isHost()) {
            src.readBytes(0, dst.hostSegment().asSlice(0, bytes));
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment bounce = arena.allocate(bytes, 64);
                src.readBytes(0, bounce);
                dst.writeBytes(0, bounce);
            }
        }
    }
}
