package dev.kiln.cpu.reduce;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Softmax and log-softmax along an axis that is not the last (inner > 1, e.g. over the channels of NCHW),
 * forward and backward, with {@link VectorSoftmax}'s formulas. Each lane is one column i of an outer slice,
 * so a vector of adjacent columns walks the length rows together (stride inner): max, then exp and sum, then
 * the scaling; backward the dot product, then dx. Columns left over after whole vectors take the same steps
 * one at a time. Per-column arithmetic is fixed, so results do not depend on the thread count. Task units
 * are (outer slice, block of {@value #BLOCK} columns), grouped by a rule that ignores the thread count.
 */
final class SoftmaxStrided {
    private SoftmaxStrided() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    static final int BLOCK = 256;

    /** Forward: {@code in} = SRC, {@code out} = DST, dy null. Backward: {@code in} = DST (y), dy, {@code out} = DIFF_SRC. */
    static void run(Width w, SoftmaxDesc d, MemorySegment in, MemorySegment dy, MemorySegment out) {
        int len = d.length(), inner = d.inner();
        boolean fwd = d.pass() == Pass.FORWARD, log = d.log();
        int blocks = Math.ceilDiv(inner, BLOCK);
        long units = (long) d.outer() * blocks;
        long perTask = Math.max(1, VectorReduce.TASK_ELEMENTS / ((long) len * Math.min(inner, BLOCK)));
        CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(units, perTask)), t -> {
            for (long u = t * perTask, end = Math.min(units, u + perTask); u < end; u++) {
                int o = (int) (u / blocks), c0 = (int) (u % blocks) * BLOCK, width = Math.min(BLOCK, inner - c0);
                long base = (long) o * len * inner + c0;
                int l = w.floats().length(), c = 0;
                for (; c <= width - l; c += l) {
                    if (fwd) forward(w, in, out, base + c, len, inner, log);
                    else backward(w, in, dy, out, base + c, len, inner, log);
                }
                for (; c < width; c++) {
                    if (fwd) forwardColumn(in, out, base + c, len, inner, log);
                    else backwardColumn(in, dy, out, base + c, len, inner, log);
                }
            }
        });
    }

    private static void forward(Width w, MemorySegment x, MemorySegment y, long base, int len, int inner, boolean log) {
        var s = w.floats();
        FloatVector max = FloatVector.broadcast(s, Float.NEGATIVE_INFINITY);
        for (int r = 0; r < len; r++) max = max.max(FloatVector.fromMemorySegment(s, x, (base + (long) r * inner) * 4, NATIVE));
        FloatVector sum = FloatVector.zero(s);
        for (int r = 0; r < len; r++) {
            long off = (base + (long) r * inner) * 4;
            FloatVector e = FloatVector.fromMemorySegment(s, x, off, NATIVE).sub(max).lanewise(VectorOperators.EXP);
            if (!log) e.intoMemorySegment(y, off, NATIVE);
            sum = sum.add(e);
        }
        if (log) {
            FloatVector shift = max.add(sum.lanewise(VectorOperators.LOG));
            for (int r = 0; r < len; r++) {
                long off = (base + (long) r * inner) * 4;
                FloatVector.fromMemorySegment(s, x, off, NATIVE).sub(shift).intoMemorySegment(y, off, NATIVE);
            }
        } else {
            FloatVector inv = FloatVector.broadcast(s, 1f).div(sum);
            for (int r = 0; r < len; r++) {
                long off = (base + (long) r * inner) * 4;
                FloatVector.fromMemorySegment(s, y, off, NATIVE).mul(inv).intoMemorySegment(y, off, NATIVE);
            }
        }
    }

    private static void backward(Width w, MemorySegment y, MemorySegment dy, MemorySegment dx, long base, int len, int inner, boolean log) {
        var s = w.floats();
        // Separate loops per variant: a vector merged from two branches would be boxed.
        FloatVector dot = FloatVector.zero(s);
        if (log) {
            for (int r = 0; r < len; r++) dot = dot.add(FloatVector.fromMemorySegment(s, dy, (base + (long) r * inner) * 4, NATIVE));
            for (int r = 0; r < len; r++) {
                long off = (base + (long) r * inner) * 4;
                FloatVector g = FloatVector.fromMemorySegment(s, dy, off, NATIVE), v = FloatVector.fromMemorySegment(s, y, off, NATIVE);
                g.sub(v.lanewise(VectorOperators.EXP).mul(dot)).intoMemorySegment(dx, off, NATIVE);
            }
        } else {
            for (int r = 0; r < len; r++) {
                long off = (base + (long) r * inner) * 4;
                dot = dot.add(FloatVector.fromMemorySegment(s, dy, off, NATIVE).mul(FloatVector.fromMemorySegment(s, y, off, NATIVE)));
            }
            for (int r = 0; r < len; r++) {
                long off = (base + (long) r * inner) * 4;
                FloatVector g = FloatVector.fromMemorySegment(s, dy, off, NATIVE), v = FloatVector.fromMemorySegment(s, y, off, NATIVE);
                v.mul(g.sub(dot)).intoMemorySegment(dx, off, NATIVE);
            }
        }
    }

    private static void forwardColumn(MemorySegment x, MemorySegment y, long base, int len, int inner, boolean log) {
        float max = Float.NEGATIVE_INFINITY;
        for (int r = 0; r < len; r++) max = Math.max(max, x.getAtIndex(F, base + (long) r * inner));
        float sum = 0;
        for (int r = 0; r < len; r++) {
            long at = base + (long) r * inner;
            float e = (float) Math.exp(x.getAtIndex(F, at) - max);
            if (!log) y.setAtIndex(F, at, e);
            sum += e;
        }
        float shift = max + (float) Math.log(sum), inv = 1f / sum;
        for (int r = 0; r < len; r++) {
            long at = base + (long) r * inner;
            y.setAtIndex(F, at, log ? x.getAtIndex(F, at) - shift : y.getAtIndex(F, at) * inv);
        }
    }

    private static void backwardColumn(MemorySegment y, MemorySegment dy, MemorySegment dx, long base, int len, int inner, boolean log) {
        float dot = 0;
        for (int r = 0; r < len; r++) {
            long at = base + (long) r * inner;
            dot += log ? dy.getAtIndex(F, at) : dy.getAtIndex(F, at) * y.getAtIndex(F, at);
        }
        for (int r = 0; r < len; r++) {
            long at = base + (long) r * inner;
            float g = dy.getAtIndex(F, at), v = y.getAtIndex(F, at);
            dx.setAtIndex(F, at, log ? g - (float) Math.exp(v) * dot : v * (g - dot));
        }
    }
}
