package dev.kiln.cpu.eltwise;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Elementwise binary ops, forward, f32, for the shapes that need no index arithmetic: SRC has the output
 * shape and SRC2 is either a single value or the output's trailing dimensions (a bias row, a per-channel
 * last axis...), so SRC2 repeats with period {@code src2.count()}. General broadcasting and the backward
 * pass are left to the next implementation. The arithmetic is the f32 operation, which equals the double
 * reference rounded to f32 for +, -, *, /, max and min.
 */
public final class VectorBinary {
    private VectorBinary() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    public static Support supports(BinaryDesc d) {
        if (d.pass() != Pass.FORWARD) return Support.no("vector binary is forward only");
        Shape out = d.out();
        if (d.a().count() != out.count())
            return Support.no("SRC " + d.a() + " is broadcast to " + out + "; vector binary needs SRC in the output shape");
        if (d.b().count() <= 1 || trailing(d.b(), out)) return Support.YES;
        return Support.no("SRC2 " + d.b() + " is not a scalar or the trailing dimensions of " + out + " (general broadcasting)");
    }

    /** True when {@code b}, leading 1s dropped, equals the last dimensions of {@code out}. */
    private static boolean trailing(Shape b, Shape out) {
        int lead = 0;
        while (lead < b.rank() && b.dim(lead) == 1) lead++;
        int rank = b.rank() - lead;
        if (rank > out.rank()) return false;
        for (int i = 0; i < rank; i++) if (b.dim(lead + i) != out.dim(out.rank() - rank + i)) return false;
        return true;
    }

    public static void run(Width w, BinaryDesc d, Args args) {
        MemorySegment a = args.host(Arg.SRC), b = args.host(Arg.SRC2), dst = args.host(Arg.DST);
        long count = d.out().count(), period = Math.max(1, d.b().count());
        int tasks = Math.toIntExact(Math.ceilDiv(count, VectorUnary.CHUNK));
        CpuThreads.parallelFor(tasks, t -> {
            long from = (long) t * VectorUnary.CHUNK, end = Math.min(count, from + VectorUnary.CHUNK);
            if (period == 1) {
                scalarOperand(w, d.op(), a, b.getAtIndex(F, 0), dst, from, (int) (end - from));
                return;
            }
            // Runs between period boundaries: SRC2 restarts at index 0 at each boundary.
            for (long i = from; i < end; ) {
                long j = i % period;
                int run = (int) Math.min(end - i, period - j);
                twoOperands(w, d.op(), a, i, b, j, dst, run);
                i += run;
            }
        });
    }

    private static void twoOperands(Width w, BinaryOp op, MemorySegment a, long ai, MemorySegment b, long bi,
                                    MemorySegment dst, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        for (; i <= len - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(s, a, (ai + i) * 4, NATIVE);
            FloatVector y = FloatVector.fromMemorySegment(s, b, (bi + i) * 4, NATIVE);
            apply(op, x, y).intoMemorySegment(dst, (ai + i) * 4, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(F, ai + i, scalar(op, a.getAtIndex(F, ai + i), b.getAtIndex(F, bi + i)));
    }

    private static void scalarOperand(Width w, BinaryOp op, MemorySegment a, float bv, MemorySegment dst, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector y = FloatVector.broadcast(s, bv);
        for (; i <= len - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(s, a, (from + i) * 4, NATIVE);
            apply(op, x, y).intoMemorySegment(dst, (from + i) * 4, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(F, from + i, scalar(op, a.getAtIndex(F, from + i), bv));
    }

    private static FloatVector apply(BinaryOp op, FloatVector x, FloatVector y) {
        return switch (op) {
            case ADD -> x.add(y);
            case SUB -> x.sub(y);
            case MUL -> x.mul(y);
            case DIV -> x.div(y);
            case MAX -> x.max(y);
            case MIN -> x.min(y);
        };
    }

    private static float scalar(BinaryOp op, float x, float y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case MAX -> Math.max(x, y);
            case MIN -> Math.min(x, y);
        };
    }
}
