package dev.kiln.cpu.reduce;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Softmax and log-softmax over contiguous rows (inner == 1), stable: the row maximum is subtracted
 * before exp. Softmax stores exp(x - max) on the way and scales by 1/sum; log-softmax writes
 * x - max - log(sum). Backward from the forward output y: softmax dx = y (dy - sum dy*y), log-softmax
 * dx = dy - exp(y) sum dy. Vector EXP in the body, double Math.exp in the tail; sums in f32. Softmax
 * along another axis (inner > 1) is {@link SoftmaxStrided}.
 */
public final class VectorSoftmax {
    private VectorSoftmax() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    public static Support supports(SoftmaxDesc d) {
        return Support.YES; // both passes, any layout; the device declines f64 before this
    }

    public static void run(Width w, SoftmaxDesc d, Args args) {
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment in = args.host(fwd ? Arg.SRC : Arg.DST), out = args.host(fwd ? Arg.DST : Arg.DIFF_SRC);
        MemorySegment dy = fwd ? null : args.host(Arg.DIFF_DST);
        if (d.inner() != 1) {
            SoftmaxStrided.run(w, d, in, dy, out);
            return;
        }
        if (fwd) {
            run(w, d, in, out);
            return;
        }
        int rows = d.outer(), len = d.length();
        int perTask = Math.max(1, VectorReduce.TASK_ELEMENTS / len);
        CpuThreads.parallelFor(Math.ceilDiv(rows, perTask), t -> {
            for (int r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++)
                backwardRow(w, in, dy, out, (long) r * len, len, d.log());
        });
    }

    /** dx for one row from the forward output y and dy. Separate loops per variant: a vector merged from two branches would be boxed. */
    private static void backwardRow(Width w, MemorySegment y, MemorySegment dy, MemorySegment dx, long from, int len, boolean log) {
        var s = w.floats();
        int l = s.length();
        float dot = log ? VectorReduce.sum(w, dy, from, len) : dot(w, dy, y, from, len);
        FloatVector vdot = FloatVector.broadcast(s, dot);
        int j = 0;
        if (log) {
            for (; j <= len - l; j += l) {
                long off = (from + j) * 4;
                FloatVector g = FloatVector.fromMemorySegment(s, dy, off, NATIVE), v = FloatVector.fromMemorySegment(s, y, off, NATIVE);
                g.sub(v.lanewise(VectorOperators.EXP).mul(vdot)).intoMemorySegment(dx, off, NATIVE);
            }
        } else {
            for (; j <= len - l; j += l) {
                long off = (from + j) * 4;
                FloatVector g = FloatVector.fromMemorySegment(s, dy, off, NATIVE), v = FloatVector.fromMemorySegment(s, y, off, NATIVE);
                v.mul(g.sub(vdot)).intoMemorySegment(dx, off, NATIVE);
            }
        }
        for (; j < len; j++) {
            float g = dy.getAtIndex(F, from + j), v = y.getAtIndex(F, from + j);
            dx.setAtIndex(F, from + j, log ? g - (float) Math.exp(v) * dot : v * (g - dot));
        }
    }

    /** Sum of dy*y over {@code len} elements from {@code from}: two accumulators, lanes in order, then the tail. */
    private static float dot(Width w, MemorySegment dy, MemorySegment y, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector acc0 = FloatVector.zero(s), acc1 = acc0;
        for (; i <= len - 2 * l; i += 2 * l) {
            long off = (from + i) * 4;
            acc0 = acc0.add(FloatVector.fromMemorySegment(s, dy, off, NATIVE).mul(FloatVector.fromMemorySegment(s, y, off, NATIVE)));
            acc1 = acc1.add(FloatVector.fromMemorySegment(s, dy, off + 4L * l, NATIVE).mul(FloatVector.fromMemorySegment(s, y, off + 4L * l, NATIVE)));
        }
        float sum = Lanes.sum(acc0.add(acc1));
        for (; i < len; i++) sum += dy.getAtIndex(F, from + i) * y.getAtIndex(F, from + i);
        return sum;
    }

    /** Forward over contiguous rows (inner == 1); {@link #run(Width, SoftmaxDesc, Args)} takes every case. */
    private static void run(Width w, SoftmaxDesc d, MemorySegment src, MemorySegment dst) {
        int rows = d.outer(), len = d.length();
        int perTask = Math.max(1, VectorReduce.TASK_ELEMENTS / len);
        CpuThreads.parallelFor(Math.ceilDiv(rows, perTask), t -> {
            for (int r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) row(w, src, dst, (long) r * len, len, d.log());
        });
    }

    private static void row(Width w, MemorySegment src, MemorySegment dst, long from, int len, boolean log) {
        var s = w.floats();
        int l = s.length();
        float max = VectorReduce.max(w, src, from, len);
        FloatVector vmax = FloatVector.broadcast(s, max);
        FloatVector acc0 = FloatVector.zero(s), acc1 = acc0;
        int i = 0;
        for (; i <= len - 2 * l; i += 2 * l) {
            long off = (from + i) * 4;
            FloatVector e0 = FloatVector.fromMemorySegment(s, src, off, NATIVE).sub(vmax).lanewise(VectorOperators.EXP);
            FloatVector e1 = FloatVector.fromMemorySegment(s, src, off + 4L * l, NATIVE).sub(vmax).lanewise(VectorOperators.EXP);
            if (!log) {
                e0.intoMemorySegment(dst, off, NATIVE);
                e1.intoMemorySegment(dst, off + 4L * l, NATIVE);
            }
            acc0 = acc0.add(e0);
            acc1 = acc1.add(e1);
        }
        float sum = Lanes.sum(acc0.add(acc1));
        for (; i < len; i++) {
            float e = (float) Math.exp(src.getAtIndex(F, from + i) - max);
            if (!log) dst.setAtIndex(F, from + i, e);
            sum += e;
        }
        if (log) {
            float shift = max + (float) Math.log(sum);
            FloatVector vs = FloatVector.broadcast(s, shift);
            int j = 0;
            for (; j <= len - l; j += l) {
                long off = (from + j) * 4;
                FloatVector.fromMemorySegment(s, src, off, NATIVE).sub(vs).intoMemorySegment(dst, off, NATIVE);
            }
            for (; j < len; j++) dst.setAtIndex(F, from + j, src.getAtIndex(F, from + j) - shift);
        } else {
            float inv = 1f / sum;
            FloatVector vi = FloatVector.broadcast(s, inv);
            int j = 0;
            for (; j <= len - l; j += l) {
                long off = (from + j) * 4;
                FloatVector.fromMemorySegment(s, dst, off, NATIVE).mul(vi).intoMemorySegment(dst, off, NATIVE);
            }
            for (; j < len; j++) dst.setAtIndex(F, from + j, dst.getAtIndex(F, from + j) * inv);
        }
    }
}
