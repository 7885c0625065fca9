package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Unary ops against formulas written here, unary and binary backward passes against central finite
 * differences of the double forward, and broadcasting against an index computation by modulo.
 */
class RefElementwiseTest {
    private static final int N = 37;

    /** Inputs inside each op's domain and away from kinks (relu and abs at 0). */
    private static float[] inputs(UnaryOp op, Random r) {
        float[] x = switch (op) {
            case LOG, SQRT -> rand(r, N, 0.2, 3);
            case EXP -> rand(r, N, -3, 3);
            default -> rand(r, N, -4, 4);
        };
        for (int i = 0; i < N; i++) if (Math.abs(x[i]) < 0.05) x[i] = 0.5f;
        return x;
    }

    private static double formula(UnaryOp op, double x) {
        return switch (op) {
            case RELU -> Math.max(x, 0);
            case GELU -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));
            case SILU -> x * (1 / (1 + Math.exp(-x)));
            case SIGMOID -> Math.exp(x) / (1 + Math.exp(x));
            case TANH -> (Math.exp(2 * x) - 1) / (Math.exp(2 * x) + 1);
            case EXP -> Math.pow(Math.E, x);
            case LOG -> Math.log(x);
            case NEG -> 0 - x;
            case ABS -> x < 0 ? -x : x;
            case SQRT -> Math.pow(x, 0.5);
            case SQUARE -> Math.pow(x, 2);
        };
    }

    @Test void unaryForwardMatchesFormulas() {
        Random r = seeded(21);
        for (UnaryOp op : UnaryOp.values()) {
            float[] x = inputs(op, r);
            float[] y = run(new UnaryDesc(op, N), Arg.SRC, x).f(Arg.DST);
            double[] want = new double[N];
            for (int i = 0; i < N; i++) want[i] = formula(op, x[i]);
            close(want, y, 1e-6, op.lower());
            nonTrivial(y, op.lower());
        }
    }

    @Test void unaryBackwardMatchesFiniteDifferences() {
        Random r = seeded(22);
        double h = 1e-5;
        for (UnaryOp op : UnaryOp.values()) {
            float[] x = inputs(op, r), dy = rand(r, N);
            float[] dx = run(new UnaryDesc(op, N, Pass.BACKWARD), Arg.SRC, x, Arg.DIFF_DST, dy).f(Arg.DIFF_SRC);
            double[] want = new double[N];
            for (int i = 0; i < N; i++)
                want[i] = dy[i] * (RefElementwise.apply(op, x[i] + h) - RefElementwise.apply(op, x[i] - h)) / (2 * h);
            close(want, dx, 1e-5, op.lower() + ".bwd");
            nonTrivial(dx, op.lower());
        }
    }

    @Test void zeroCountRuns() {
        float[] y = run(new UnaryDesc(UnaryOp.EXP, 0), Arg.SRC, new float[0]).f(Arg.DST);
        assertEquals(0, y.length);
    }

    private static final Shape[][] PAIRS = {
            {Shape.of(3, 5), Shape.of(3, 5)},
            {Shape.of(2, 3, 4), Shape.of(3, 1)},
            {Shape.of(5, 1, 7), Shape.of(1, 6, 1)},
            {Shape.of(), Shape.of(4, 3)},
            {Shape.of(4, 1), Shape.of(9)},
            {Shape.of(1, 3, 1, 2), Shape.of(2, 1, 5, 1)},
    };

    /** Element index of {@code in} read at output index {@code o}: numpy broadcasting by modulo. */
    private static int broadcastIndex(Shape out, Shape in, int o) {
        int idx = 0, stride = 1;
        for (int i = out.rank() - 1, j = in.rank() - 1; j >= 0; i--, j--) {
            int coord = (o / suffix(out, i + 1)) % out.dim(i);
            idx += (coord % in.dim(j)) * stride;
            stride *= in.dim(j);
        }
        return idx;
    }

    private static int suffix(Shape s, int from) {
        int p = 1;
        for (int i = from; i < s.rank(); i++) p *= s.dim(i);
        return p;
    }

    private static float[] operand(BinaryOp op, Random r, int n, boolean second) {
        float[] v = rand(r, n, -2, 2);
        if (second && op == BinaryOp.DIV) for (int i = 0; i < n; i++) v[i] = (v[i] < 0 ? -1 : 1) * (0.5f + Math.abs(v[i]));
        return v;
    }

    @Test void binaryForwardBroadcasts() {
        Random r = seeded(23);
        for (BinaryOp op : BinaryOp.values())
            for (Shape[] pair : PAIRS) {
                BinaryDesc d = new BinaryDesc(op, pair[0], pair[1]);
                float[] a = operand(op, r, (int) pair[0].count(), false), b = operand(op, r, (int) pair[1].count(), true);
                float[] y = run(d, Arg.SRC, a, Arg.SRC2, b).f(Arg.DST);
                Shape out = d.out();
                double[] want = new double[(int) out.count()];
                for (int o = 0; o < want.length; o++) {
                    double va = a[broadcastIndex(out, pair[0], o)], vb = b[broadcastIndex(out, pair[1], o)];
                    want[o] = switch (op) {
                        case ADD -> va + vb; case SUB -> va - vb; case MUL -> va * vb; case DIV -> va / vb;
                        case MAX -> va > vb ? va : vb; case MIN -> va < vb ? va : vb;
                    };
                }
                close(want, y, 1e-6, op.lower() + " " + d.shape());
                nonTrivial(y, d.shape());
            }
    }

    @Test void binaryBackwardMatchesFiniteDifferences() {
        Random r = seeded(24);
        double h = 1e-4;
        for (BinaryOp op : BinaryOp.values())
            for (Shape[] pair : PAIRS) {
                BinaryDesc d = new BinaryDesc(op, pair[0], pair[1], Pass.BACKWARD);
                float[] a = operand(op, r, (int) pair[0].count(), false), b = operand(op, r, (int) pair[1].count(), true);
                float[] dy = rand(r, (int) d.out().count());
                RefCase.Out out = run(d, Arg.SRC, a, Arg.SRC2, b, Arg.DIFF_DST, dy);
                double[] da = new double[a.length], db = new double[b.length];
                for (int i = 0; i < a.length; i++) da[i] = fd(d, a, b, dy, i, true, h);
                for (int i = 0; i < b.length; i++) db[i] = fd(d, a, b, dy, i, false, h);
                close(da, out.f(Arg.DIFF_SRC), 1e-4, op.lower() + ".bwd dA " + d.shape());
                close(db, out.f(Arg.DIFF_SRC2), 1e-4, op.lower() + ".bwd dB " + d.shape());
            }
    }

    /** d/d(input i) of L = sum dy * op(a, b), centrally, in double. */
    private static double fd(BinaryDesc d, float[] a, float[] b, float[] dy, int i, boolean first, double h) {
        return (loss(d, a, b, dy, i, first, h) - loss(d, a, b, dy, i, first, -h)) / (2 * h);
    }

    private static double loss(BinaryDesc d, float[] a, float[] b, float[] dy, int at, boolean first, double h) {
        Shape out = d.out();
        double s = 0;
        for (int o = 0; o < dy.length; o++) {
            int ia = broadcastIndex(out, d.a(), o), ib = broadcastIndex(out, d.b(), o);
            double va = a[ia] + (first && ia == at ? h : 0), vb = b[ib] + (!first && ib == at ? h : 0);
            s += dy[o] * RefElementwise.apply(d.op(), va, vb);
        }
        return s;
    }

    @Test void maxAndMinTiesSendGradientToSrc() {
        float[] a = {1, 2, 3, -1}, b = {1, 5, 3, -2}, dy = {0.5f, 0.25f, -2, 4};
        for (BinaryOp op : new BinaryOp[] {BinaryOp.MAX, BinaryOp.MIN}) {
            RefCase.Out o = run(new BinaryDesc(op, Shape.of(4), Shape.of(4), Pass.BACKWARD), Arg.SRC, a, Arg.SRC2, b, Arg.DIFF_DST, dy);
            boolean max = op == BinaryOp.MAX;
            // Elements 0 and 2 tie: SRC gets them. Element 1: b wins max, a wins min. Element 3: a wins max, b wins min.
            close(new float[] {0.5f, max ? 0 : 0.25f, -2, max ? 4 : 0}, o.f(Arg.DIFF_SRC), 0, op.lower() + " dA");
            close(new float[] {0, max ? 0.25f : 0, 0, max ? 0 : 4}, o.f(Arg.DIFF_SRC2), 0, op.lower() + " dB");
        }
    }
}
