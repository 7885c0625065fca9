package dev.kiln.cpu.eltwise;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Elementwise binary ops, f32, with numpy broadcasting of both operands. The result is walked as the rows of
 * {@link BroadcastRows}: along a row each operand is contiguous or one repeated value, so the body is one of
 * three vector loops (both contiguous, SRC2 repeated, SRC repeated). Equal shapes fold to a single row and a
 * bias row or per-channel operand to rows of the trailing extent. The arithmetic is the f32 operation, which
 * equals the double reference rounded to f32 for +, -, *, /, max and min. The backward pass is
 * {@link BinaryBackward}. Work is cut into fixed chunks of {@value VectorUnary#CHUNK} result elements.
 */
public final class VectorBinary {
    private VectorBinary() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Every f32 shape pair the reference accepts, both passes (the device declines f64 before this). */
    public static Support supports(BinaryDesc d) {
        return Support.YES;
    }

    public static void run(Width w, BinaryDesc d, Args args) {
        if (d.pass() == Pass.BACKWARD) {
            BinaryBackward.run(w, d, args);
            return;
        }
        long count = d.out().count();
        if (count == 0) return;
        MemorySegment a = args.host(Arg.SRC), b = args.host(Arg.SRC2), dst = args.host(Arg.DST);
        BroadcastRows rows = BroadcastRows.of(d);
        int n = rows.n();
        int tasks = Math.toIntExact(Math.ceilDiv(count, VectorUnary.CHUNK));
        CpuThreads.parallelFor(tasks, t -> {
            long from = (long) t * VectorUnary.CHUNK, end = Math.min(count, from + VectorUnary.CHUNK);
            MemorySegment aRep = repeatScratch(0), bRep = repeatScratch(1);
            BroadcastRows.Walker walk = new BroadcastRows.Walker(rows, rows.allDims());
            walk.seek(from / n);
            // Runs within one row; the walker steps the operands' row offsets.
            int j = (int) (from % n);
            for (long i = from; i < end; walk.next(), j = 0) {
                int run = (int) Math.min(end - i, n - j);
                long ai = walk.a, bi = walk.b;
                MemorySegment as = rows.aRow() ? a : repeat(aRep, a.getAtIndex(F, ai));
                MemorySegment bs = rows.bRow() ? b : repeat(bRep, b.getAtIndex(F, bi));
                row(w, d.op(), as, rows.aRow() ? (ai + j) * 4 : 0, rows.aRow() ? 4 : 0,
                        bs, rows.bRow() ? (bi + j) * 4 : 0, rows.bRow() ? 4 : 0, dst, i * 4, run);
                i += run;
            }
        });
    }

    /**
     * Per-thread native scratch: three one-vector slots (room for the widest species) from which a repeated operand
     * or zeros are read with step 0, then {@link BinaryBackward#BLOCK} floats. Native like the operands, so every
     * vector load site sees one segment class (a heap scratch beside native operands made C2 give up on the loads).
     */
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(3 * 64 + BinaryBackward.BLOCK * 4L, 64));

    /** Slot {@code i} (0..2) of this thread's scratch, for {@link #repeat}; slot 2 is kept zero by its users. */
    static MemorySegment repeatScratch(int i) { return SCRATCH.get().asSlice(i * 64L, 64); }

    /** This thread's {@link BinaryBackward#BLOCK}-float scratch row. */
    static MemorySegment scratchRow() { return SCRATCH.get().asSlice(3 * 64L); }

    /** {@code scratch} filled with {@code v}, so that a vector load at offset 0 reads v in every lane. */
    static MemorySegment repeat(MemorySegment scratch, float v) {
        if (Float.floatToRawIntBits(scratch.getAtIndex(F, 0)) != Float.floatToRawIntBits(v)) // -0 is not 0 here
            for (int i = 0; i < 16; i++) scratch.setAtIndex(F, i, v);
        return scratch;
    }

    /**
     * dst[do + i] = a[ao + i*as] op b[bo + i*bs] for i < len, offsets and steps in bytes: a step of 4 walks an
     * operand, a step of 0 repeats the vector at its offset (see {@link #repeat}). Loads are unconditional and each
     * case stores its own result: a vector merged from several branches would be boxed.
     */
    private static void row(Width w, BinaryOp op, MemorySegment a, long ao, long as, MemorySegment b, long bo, long bs,
                            MemorySegment dst, long dOff, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        for (; i <= len - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(s, a, ao + i * as, NATIVE);
            FloatVector y = FloatVector.fromMemorySegment(s, b, bo + i * bs, NATIVE);
            long off = dOff + i * 4L;
            switch (op) {
                case ADD -> x.add(y).intoMemorySegment(dst, off, NATIVE);
                case SUB -> x.sub(y).intoMemorySegment(dst, off, NATIVE);
                case MUL -> x.mul(y).intoMemorySegment(dst, off, NATIVE);
                case DIV -> x.div(y).intoMemorySegment(dst, off, NATIVE);
                case MAX -> x.max(y).intoMemorySegment(dst, off, NATIVE);
                case MIN -> x.min(y).intoMemorySegment(dst, off, NATIVE);
            }
        }
        for (; i < len; i++)
            dst.set(F, dOff + i * 4L, scalar(op, a.get(F, ao + i * as), b.get(F, bo + i * bs)));
    }

    static float scalar(BinaryOp op, float x, float y) {
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
