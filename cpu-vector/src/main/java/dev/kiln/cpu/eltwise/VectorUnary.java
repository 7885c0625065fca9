package dev.kiln.cpu.eltwise;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Elementwise unary ops, forward and backward, f32 on host segments: vector body with the Vector API's
 * EXP/LOG/TANH, scalar tail in double. Work is cut into fixed chunks of {@value #CHUNK} elements (a
 * multiple of every vector length), so the element-to-code mapping never depends on the thread count.
 * Backward: DIFF_SRC = DIFF_DST * op'(SRC); GELU is the tanh approximation.
 */
public final class VectorUnary {
    private VectorUnary() {}

    static final int CHUNK = 1 << 14;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final float GELU_C = (float) Math.sqrt(2 / Math.PI);
    private static final double GELU_CD = Math.sqrt(2 / Math.PI);

    /** Every unary op and pass is supported. */
    public static Support supports(UnaryDesc d) { return Support.YES; }

    public static void run(Width w, UnaryDesc d, Args args) {
        MemorySegment src = args.host(Arg.SRC);
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment dst = fwd ? args.host(Arg.DST) : args.host(Arg.DIFF_SRC);
        MemorySegment diff = fwd ? null : args.host(Arg.DIFF_DST);
        long count = d.count();
        int tasks = Math.toIntExact(Math.ceilDiv(count, CHUNK));
        CpuThreads.parallelFor(tasks, t -> {
            long from = (long) t * CHUNK;
            int len = (int) Math.min(CHUNK, count - from);
            if (fwd) forward(w, d.op(), src, dst, from, len);
            else backward(w, d.op(), src, diff, dst, from, len);
        });
    }

    static void forward(Width w, UnaryOp op, MemorySegment src, MemorySegment dst, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        for (; i <= len - l; i += l) {
            long off = (from + i) * 4;
            FloatVector x = FloatVector.fromMemorySegment(s, src, off, NATIVE);
            // Each case stores its own result: a vector merged from several branches would be boxed.
            switch (op) {
                case RELU -> x.max(0f).intoMemorySegment(dst, off, NATIVE);
                case GELU -> x.mul(0.5f).mul(x.mul(x).mul(x).mul(0.044715f).add(x).mul(GELU_C).lanewise(VectorOperators.TANH).add(1f))
                        .intoMemorySegment(dst, off, NATIVE);
                case SILU -> x.div(x.neg().lanewise(VectorOperators.EXP).add(1f)).intoMemorySegment(dst, off, NATIVE);
                case SIGMOID -> x.broadcast(1f).div(x.neg().lanewise(VectorOperators.EXP).add(1f)).intoMemorySegment(dst, off, NATIVE);
                case TANH -> x.lanewise(VectorOperators.TANH).intoMemorySegment(dst, off, NATIVE);
                case EXP -> x.lanewise(VectorOperators.EXP).intoMemorySegment(dst, off, NATIVE);
                case LOG -> x.lanewise(VectorOperators.LOG).intoMemorySegment(dst, off, NATIVE);
                case NEG -> x.neg().intoMemorySegment(dst, off, NATIVE);
                case ABS -> x.abs().intoMemorySegment(dst, off, NATIVE);
                case SQRT -> x.sqrt().intoMemorySegment(dst, off, NATIVE);
                case SQUARE -> x.mul(x).intoMemorySegment(dst, off, NATIVE);
            }
        }
        for (; i < len; i++) dst.setAtIndex(F, from + i, (float) scalar(op, src.getAtIndex(F, from + i)));
    }

    static void backward(Width w, UnaryOp op, MemorySegment src, MemorySegment diff, MemorySegment dst, long from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0;
        for (; i <= len - l; i += l) {
            long off = (from + i) * 4;
            FloatVector x = FloatVector.fromMemorySegment(s, src, off, NATIVE);
            FloatVector g = FloatVector.fromMemorySegment(s, diff, off, NATIVE);
            switch (op) {
                case RELU -> g.blend(0f, x.compare(VectorOperators.LE, 0f)).intoMemorySegment(dst, off, NATIVE);
                case GELU -> {
                    FloatVector x2 = x.mul(x);
                    FloatVector t = x2.mul(0.044715f).add(1f).mul(x).mul(GELU_C).lanewise(VectorOperators.TANH);
                    FloatVector du = x2.mul(3 * 0.044715f).add(1f).mul(GELU_C);
                    FloatVector dy = t.add(1f).mul(0.5f).add(x.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(du));
                    g.mul(dy).intoMemorySegment(dst, off, NATIVE);
                }
                case SILU -> {
                    FloatVector sg = x.broadcast(1f).div(x.neg().lanewise(VectorOperators.EXP).add(1f));
                    g.mul(sg.mul(x.mul(sg.neg().add(1f)).add(1f))).intoMemorySegment(dst, off, NATIVE);
                }
                case SIGMOID -> {
                    FloatVector sg = x.broadcast(1f).div(x.neg().lanewise(VectorOperators.EXP).add(1f));
                    g.mul(sg.mul(sg.neg().add(1f))).intoMemorySegment(dst, off, NATIVE);
                }
                case TANH -> {
                    FloatVector t = x.lanewise(VectorOperators.TANH);
                    g.mul(t.mul(t).neg().add(1f)).intoMemorySegment(dst, off, NATIVE);
                }
                case EXP -> g.mul(x.lanewise(VectorOperators.EXP)).intoMemorySegment(dst, off, NATIVE);
                case LOG -> g.div(x).intoMemorySegment(dst, off, NATIVE);
                case NEG -> g.neg().intoMemorySegment(dst, off, NATIVE);
                case ABS -> g.blend(0f, x.compare(VectorOperators.EQ, 0f)).blend(g.neg(), x.compare(VectorOperators.LT, 0f))
                        .intoMemorySegment(dst, off, NATIVE);
                case SQRT -> g.mul(0.5f).div(x.sqrt()).intoMemorySegment(dst, off, NATIVE);
                case SQUARE -> g.mul(x.mul(2f)).intoMemorySegment(dst, off, NATIVE);
            }
        }
        for (; i < len; i++) {
            long e = from + i;
            dst.setAtIndex(F, e, (float) (diff.getAtIndex(F, e) * derivative(op, src.getAtIndex(F, e))));
        }
    }

    /** op(x) in double, for scalar tails. */
    static double scalar(UnaryOp op, double x) {
        return switch (op) {
            case RELU -> x > 0 ? x : 0;
            case GELU -> 0.5 * x * (1 + Math.tanh(GELU_CD * (x + 0.044715 * x * x * x)));
            case SILU -> x / (1 + Math.exp(-x));
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case SQRT -> Math.sqrt(x);
            case SQUARE -> x * x;
        };
    }

    /** op'(x) in double, for scalar tails. */
    static double derivative(UnaryOp op, double x) {
        return switch (op) {
            case RELU -> x > 0 ? 1 : 0;
            case GELU -> {
                double t = Math.tanh(GELU_CD * (x + 0.044715 * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_CD * (1 + 3 * 0.044715 * x * x);
            }
            case SILU -> {
                double sg = 1 / (1 + Math.exp(-x));
                yield sg * (1 + x * (1 - sg));
            }
            case SIGMOID -> {
                double sg = 1 / (1 + Math.exp(-x));
                yield sg * (1 - sg);
            }
            case TANH -> 1 - Math.tanh(x) * Math.tanh(x);
            case EXP -> Math.exp(x);
            case LOG -> 1 / x;
            case NEG -> -1;
            case ABS -> Math.signum(x);
            case SQRT -> 0.5 / Math.sqrt(x);
            case SQUARE -> 2 * x;
        };
    }
}
