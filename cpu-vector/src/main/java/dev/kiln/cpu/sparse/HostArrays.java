package dev.kiln.cpu.sparse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Operands as Java arrays for the sparse kernels. Why arrays: the kernels gather B rows by index, and C2
 * compiles that loop about three times faster over arrays than over segments (bounds and liveness checks
 * it cannot hoist past the data-dependent loads); worse, a call site that sees both heap and native segments
 * loses its type profile and runs up to ten times slower. A segment over a whole-array heap view is used in
 * place; anything else is copied once per call (O(nnz + k n + m n) bytes against O(nnz n) FMAs).
 */
final class HostArrays {
    private HostArrays() {}

    /** Largest count the array kernels take. */
    static final long MAX = Integer.MAX_VALUE - 8;

    static float[] floats(MemorySegment s, long count) {
        if (s.heapBase().orElse(null) instanceof float[] f && s.address() == 0 && f.length >= count) return f;
        float[] out = new float[(int) count];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, (int) count);
        return out;
    }

    /** As {@link #floats(MemorySegment, long)}, copying into the calling thread's {@code scratch} array (may be longer). */
    static float[] floats(MemorySegment s, long count, Scratch.Floats scratch) {
        if (s.heapBase().orElse(null) instanceof float[] f && s.address() == 0 && f.length >= count) return f;
        float[] out = scratch.get((int) count);
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, (int) count);
        return out;
    }

    static int[] ints(MemorySegment s, long count) {
        if (s.heapBase().orElse(null) instanceof int[] a && s.address() == 0 && a.length >= count) return a;
        int[] out = new int[(int) count];
        MemorySegment.copy(s, ValueLayout.JAVA_INT_UNALIGNED, 0, out, 0, (int) count);
        return out;
    }

    /** An array to write {@code count} floats of output into: the segment's own array where it is one, else scratch. */
    static float[] output(MemorySegment s, long count) {
        if (s.heapBase().orElse(null) instanceof float[] f && s.address() == 0 && f.length >= count && !s.isReadOnly()) return f;
        return new float[(int) count];
    }

    /** Copies {@code out} into the segment unless it is the segment's own array. */
    static void writeBack(float[] out, MemorySegment s, long count) {
        if (s.heapBase().orElse(null) == out) return;
        MemorySegment.copy(out, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, (int) count);
    }
}
