package dev.kiln.cpu.reduce;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * ARGMAX with the reference's rule: the first index whose value is strictly greater than every earlier one.
 * Restated so lanes can work apart: if element 0 is NaN the answer is 0 (nothing compares greater); otherwise
 * it is the first index holding M, the largest non-NaN value (ties, and -0 against +0, go to the first), or 0
 * when M is -inf. Two passes, float vectors only: M (a maximum that skips NaN by updating only where the value
 * compares greater), then the first element equal to M.
 */
final class ArgMax {
    private ArgMax() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** The argmax of the {@code len >= 1} contiguous floats from element {@code from}. */
    static int row(Width w, MemorySegment src, long from, int len) {
        if (Float.isNaN(src.getAtIndex(F, from))) return 0;
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector m0 = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY), m1 = m0;
        for (; i <= len - 2 * l; i += 2 * l) {
            long off = (from + i) * 4;
            FloatVector x0 = FloatVector.fromMemorySegment(s, src, off, NATIVE);
            FloatVector x1 = FloatVector.fromMemorySegment(s, src, off + 4L * l, NATIVE);
            m0 = m0.blend(x0, x0.compare(VectorOperators.GT, m0));
            m1 = m1.blend(x1, x1.compare(VectorOperators.GT, m1));
        }
        m0 = m0.blend(m1, m1.compare(VectorOperators.GT, m0));
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < l; j++) m = greater(m0.lane(j), m);
        for (; i < len; i++) m = greater(src.getAtIndex(F, from + i), m);
        if (m == Float.NEGATIVE_INFINITY) return 0;
        FloatVector vm = FloatVector.broadcast(s, m);
        int k = 0;
        for (; k <= len - l; k += l) {
            VectorMask<Float> eq = FloatVector.fromMemorySegment(s, src, (from + k) * 4, NATIVE).compare(VectorOperators.EQ, vm);
            if (eq.anyTrue()) return k + eq.firstTrue();
        }
        for (; k < len; k++) if (src.getAtIndex(F, from + k) == m) return k;
        throw new AssertionError("maximum " + m + " not found again");
    }

    private static float greater(float v, float best) { return v > best ? v : best; }

    /**
     * The argmax of each of {@code lanes} adjacent columns (one vector's worth) of an outer slice: column c's
     * values are at {@code base + c + l*inner}, l < len; the answers go to dst[at + c].
     */
    static void columns(Width w, MemorySegment src, long base, int len, int inner, MemorySegment dst, long at) {
        var s = w.floats();
        int l = s.length();
        FloatVector first = FloatVector.fromMemorySegment(s, src, base * 4, NATIVE);
        FloatVector m = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
        for (int r = 0; r < len; r++) {
            FloatVector x = FloatVector.fromMemorySegment(s, src, (base + (long) r * inner) * 4, NATIVE);
            m = m.blend(x, x.compare(VectorOperators.GT, m));
        }
        // Lanes answered 0 up front: element 0 is NaN, or nothing beats -inf.
        VectorMask<Float> done = first.test(VectorOperators.IS_NAN).or(m.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
        long bits = done.toLong();
        for (int c = 0; c < l; c++) if ((bits >>> c & 1) != 0) dst.setAtIndex(I, at + c, 0);
        for (int r = 0; r < len && !done.allTrue(); r++) {
            FloatVector x = FloatVector.fromMemorySegment(s, src, (base + (long) r * inner) * 4, NATIVE);
            VectorMask<Float> hit = x.compare(VectorOperators.EQ, m).andNot(done);
            if (!hit.anyTrue()) continue;
            long h = hit.toLong();
            for (int c = 0; c < l; c++) if ((h >>> c & 1) != 0) dst.setAtIndex(I, at + c, r);
            done = done.or(hit);
        }
        assert done.allTrue();
    }

    /** The reference loop, for one column of a strided layout (the tail columns). */
    static int column(MemorySegment src, long base, int len, int inner) {
        int arg = 0;
        float best = src.getAtIndex(F, base);
        for (int r = 1; r < len; r++) {
            float v = src.getAtIndex(F, base + (long) r * inner);
            if (v > best) { best = v; arg = r; }
        }
        return arg;
    }
}
