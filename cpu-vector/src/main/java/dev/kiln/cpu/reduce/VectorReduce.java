package dev.kiln.cpu.reduce;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * SUM, MEAN, MAX and ARGMAX over contiguous rows (inner == 1): dst[o] = op over l of src[o*length + l].
 * Four vector accumulators per row, then a lane reduction and a scalar tail; sums accumulate in f32
 * (the reference uses double; the difference is within f32 tolerance). Each row is one task's, with
 * rows grouped into tasks by a rule that ignores the thread count. A reduction over another axis
 * (inner > 1) is {@link ReduceStrided}.
 */
public final class VectorReduce {
    private VectorReduce() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** About this many elements per task. */
    static final int TASK_ELEMENTS = 1 << 15;

    public static Support supports(ReduceDesc d) {
        return Support.YES; // every f32 op and layout; the device declines f64 before this
    }

    public static void run(Width w, ReduceDesc d, MemorySegment src, MemorySegment dst) {
        if (d.inner() != 1) {
            ReduceStrided.run(w, d, src, dst);
            return;
        }
        int rows = d.outer(), len = d.length();
        int perTask = Math.max(1, TASK_ELEMENTS / len);
        CpuThreads.parallelFor(Math.ceilDiv(rows, perTask), t -> {
            for (int r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) {
                long from = (long) r * len;
                if (d.op() == ReduceOp.ARGMAX) {
                    dst.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, r, ArgMax.row(w, src, from, len));
                    continue;
                }
                float v = switch (d.op()) {
                    case SUM -> sum(w, src, from, len);
                    case MEAN -> sum(w, src, from, len) / len;
                    case MAX -> max(w, src, from, len);
                    case ARGMAX -> throw new AssertionError("handled above");
                };
                dst.setAtIndex(F, r, v);
            }
        });
    }

    /** Sum of {@code len} floats from element {@code from}. */
    static float sum(Width w, MemorySegment src, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector s0 = FloatVector.zero(s), s1 = s0, s2 = s0, s3 = s0;
        for (; i <= len - 4 * l; i += 4 * l) {
            long off = (from + i) * 4;
            s0 = s0.add(FloatVector.fromMemorySegment(s, src, off, NATIVE));
            s1 = s1.add(FloatVector.fromMemorySegment(s, src, off + 4L * l, NATIVE));
            s2 = s2.add(FloatVector.fromMemorySegment(s, src, off + 8L * l, NATIVE));
            s3 = s3.add(FloatVector.fromMemorySegment(s, src, off + 12L * l, NATIVE));
        }
        for (; i <= len - l; i += l) s0 = s0.add(FloatVector.fromMemorySegment(s, src, (from + i) * 4, NATIVE));
        float total = Lanes.sum(s0.add(s1).add(s2.add(s3)));
        for (; i < len; i++) total += src.getAtIndex(F, from + i);
        return total;
    }

    /** Maximum of {@code len >= 1} floats from element {@code from}. */
    static float max(Width w, MemorySegment src, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector m0 = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
        for (; i <= len - 4 * l; i += 4 * l) {
            long off = (from + i) * 4;
            m0 = m0.max(FloatVector.fromMemorySegment(s, src, off, NATIVE));
            m1 = m1.max(FloatVector.fromMemorySegment(s, src, off + 4L * l, NATIVE));
            m2 = m2.max(FloatVector.fromMemorySegment(s, src, off + 8L * l, NATIVE));
            m3 = m3.max(FloatVector.fromMemorySegment(s, src, off + 12L * l, NATIVE));
        }
        for (; i <= len - l; i += l) m0 = m0.max(FloatVector.fromMemorySegment(s, src, (from + i) * 4, NATIVE));
        float m = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        for (; i < len; i++) m = Math.max(m, src.getAtIndex(F, from + i));
        return m;
    }
}
