package dev.kiln.kernels;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.spi.DeviceBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/** The operands of one op call, by role. Mutable while being built; kernels only read it. */
public final class Args {
    private final EnumMap<Arg, DeviceBuffer> buffers = new EnumMap<>(Arg.class);

    public static Args of() { return new Args(); }

    public static Args of(Arg a1, DeviceBuffer b1) { return new Args().put(a1, b1); }

    public static Args of(Arg a1, DeviceBuffer b1, Arg a2, DeviceBuffer b2) { return of(a1, b1).put(a2, b2); }

    public static Args of(Arg a1, DeviceBuffer b1, Arg a2, DeviceBuffer b2, Arg a3, DeviceBuffer b3) {
        return of(a1, b1, a2, b2).put(a3, b3);
    }

    public static Args of(Arg a1, DeviceBuffer b1, Arg a2, DeviceBuffer b2, Arg a3, DeviceBuffer b3, Arg a4, DeviceBuffer b4) {
        return of(a1, b1, a2, b2, a3, b3).put(a4, b4);
    }

    /** Sets the buffer for {@code arg}; a null buffer removes the role, so optional operands may be passed as null. */
    public Args put(Arg arg, DeviceBuffer buffer) {
        if (arg == null) throw new IllegalArgumentException("args: role is null");
        if (buffer == null) buffers.remove(arg);
        else buffers.put(arg, buffer);
        return this;
    }

    /** The buffer for {@code arg}, or null. */
    public DeviceBuffer get(Arg arg) { return buffers.get(arg); }

    /** The host segment for {@code arg}; kernels of host-memory backends use this. */
    public MemorySegment host(Arg arg) { return buffers.get(arg).hostSegment(); }

    public boolean has(Arg arg) { return buffers.get(arg) != null; }

    public Map<Arg, DeviceBuffer> asMap() { return Collections.unmodifiableMap(buffers); }

    @Override public String toString() { return buffers.toString(); }
}
