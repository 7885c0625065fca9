package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;

import java.lang.foreign.MemorySegment;

/**
 * Reference elementwise ops in double. Unary backward: dx = dy * op'(x), with relu'(0) = 0, abs'(0) = 0.
 * Binary: numpy broadcasting, each input indexed through strides that are zero along its broadcast
 * dimensions; the backward pass sums each input's gradient over those dimensions. For MAX (MIN) the
 * gradient goes to SRC when src >= src2 (src <= src2), so ties go to SRC.
 */
public final class RefElementwise {
    private RefElementwise() {}

    static void unary(UnaryDesc d, Args args) {
        DType t = d.dtype();
        MemorySegment x = args.host(Arg.SRC);
        if (d.pass() == Pass.FORWARD) {
            MemorySegment y = args.host(Arg.DST);
            for (long i = 0; i < d.count(); i++) Mem.f(t, y, i, apply(d.op(), Mem.f(t, x, i)));
        } else {
            MemorySegment dy = args.host(Arg.DIFF_DST), dx = args.host(Arg.DIFF_SRC);
            for (long i = 0; i < d.count(); i++) Mem.f(t, dx, i, Mem.f(t, dy, i) * derivative(d.op(), Mem.f(t, x, i)));
        }
    }

    /** op(x) in double. */
    public static double apply(UnaryOp op, double x) {
        return switch (op) {
            case RELU -> x > 0 ? x : 0;
            case GELU -> RefActivation.gelu(x);
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

    /** d op / dx at x, in double. */
    public static double derivative(UnaryOp op, double x) {
        return switch (op) {
            case RELU -> x > 0 ? 1 : 0;
            case GELU -> RefActivation.geluGrad(x);
            case SILU -> { double sg = 1 / (1 + Math.exp(-x)); yield sg * (1 + x * (1 - sg)); }
            case SIGMOID -> { double sg = 1 / (1 + Math.exp(-x)); yield sg * (1 - sg); }
            case TANH -> { double t = Math.tanh(x); yield 1 - t * t; }
            case EXP -> Math.exp(x);
            case LOG -> 1 / x;
            case NEG -> -1;
            case ABS -> Math.signum(x);
            case SQRT -> 0.5 / Math.sqrt(x);
            case SQUARE -> 2 * x;
        };
    }

    static void binary(BinaryDesc d, Args args) {
        DType t = d.dtype();
        Shape out = d.out();
        int rank = out.rank();
        long[] sa = strides(d.a(), rank), sb = strides(d.b(), rank);
        long total = out.count();
        MemorySegment a = args.host(Arg.SRC), b = args.host(Arg.SRC2);
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment y = fwd ? args.host(Arg.DST) : null, dy = fwd ? null : args.host(Arg.DIFF_DST);
        double[] da = fwd ? null : new double[Math.toIntExact(d.a().count())];
        double[] db = fwd ? null : new double[Math.toIntExact(d.b().count())];
        int[] idx = new int[rank];
        for (long o = 0; o < total; o++) {
            long ia = 0, ib = 0;
            for (int i = 0; i < rank; i++) { ia += idx[i] * sa[i]; ib += idx[i] * sb[i]; }
            double va = Mem.f(t, a, ia), vb = Mem.f(t, b, ib);
            if (fwd) {
                Mem.f(t, y, o, apply(d.op(), va, vb));
            } else {
                double g = Mem.f(t, dy, o);
                switch (d.op()) {
                    case ADD -> { da[(int) ia] += g; db[(int) ib] += g; }
                    case SUB -> { da[(int) ia] += g; db[(int) ib] -= g; }
                    case MUL -> { da[(int) ia] += g * vb; db[(int) ib] += g * va; }
                    case DIV -> { da[(int) ia] += g / vb; db[(int) ib] -= g * va / (vb * vb); }
                    case MAX -> { if (va >= vb) da[(int) ia] += g; else db[(int) ib] += g; }
                    case MIN -> { if (va <= vb) da[(int) ia] += g; else db[(int) ib] += g; }
                }
            }
            for (int i = rank - 1; i >= 0 && ++idx[i] == out.dim(i); i--) idx[i] = 0;  // odometer
        }
        if (!fwd) {
            MemorySegment dxa = args.host(Arg.DIFF_SRC), dxb = args.host(Arg.DIFF_SRC2);
            for (int i = 0; i < da.length; i++) Mem.f(t, dxa, i, da[i]);
            for (int i = 0; i < db.length; i++) Mem.f(t, dxb, i, db[i]);
        }
    }

    /** op(a, b) in double. */
    public static double apply(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
        };
    }

    /** Row-major strides of {@code s} aligned right against {@code rank} dimensions; 0 where broadcast. */
    private static long[] strides(Shape s, int rank) {
        long[] st = new long[rank];
        long step = 1;
        for (int i = s.rank() - 1; i >= 0; i--) {
            int at = rank - s.rank() + i;
            st[at] = s.dim(i) == 1 ? 0 : step;
            step *= s.dim(i);
        }
        return st;
    }
}
