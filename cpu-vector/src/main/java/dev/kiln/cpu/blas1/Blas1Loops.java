package dev.kiln.cpu.blas1;

import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The contiguous (increment 1) vector loops of DOT, AXPY and SCAL over one chunk {@code [from, from+len)},
 * f32 and f64, each twice: on native segments and on Java arrays.
 *
 * <p>Why two copies: a vector load from a segment reaches its base and offset through JDK code whose type
 * profile every caller in the process shares (see {@code conv/NativeSegments}). A segment loop that starts by
 * checking {@code getClass()} against the native class lets C2 compile it for that class alone; a caller's
 * {@code float[]} (what {@code Blas.saxpy(float[] ...)} wraps) goes to the array loops, which load with
 * {@code fromArray} and never touch a segment. Operands that are neither run the scalar loops.
 *
 * <p>The segment DOT loops count in bytes with a {@code long} induction variable: with an int index scaled
 * to a long offset per load, C2 kept a range check on every load and the in-L2 sdot ran at about half the
 * speed (measured with {@code Blas1SpeedMain}, best of 15-25 rounds: 92 against 215 GB/s at 64 Ki floats).
 *
 * <p>DOT keeps four vector accumulators (FMA latency x two loads per FMA), adds them in a fixed tree and the
 * lanes in lane order, then the tail with scalar FMAs: the result depends on the width, never on timing.
 * AXPY is one FMA per element ({@code Math.fma} in the tail, so every element is the correctly rounded
 * alpha*x+y at any width); SCAL one product.
 */
final class Blas1Loops {
    private Blas1Loops() {}

    /** The class of the segments arenas allocate. */
    static final Class<?> NATIVE = MemorySegment.ofAddress(0).getClass();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    // ---- f32 on native segments

    static float dot(Width w, MemorySegment x, MemorySegment y, long from, int len) {
        if (x.getClass() != NATIVE || y.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.floats();
        long vb = s.vectorByteSize(), o = from * 4, end = (from + len) * 4;
        FloatVector a0 = FloatVector.zero(s), a1 = a0, a2 = a0, a3 = a0;
        for (; o <= end - 4 * vb; o += 4 * vb) { // a long induction variable: C2 then drops the segments' range checks
            a0 = FloatVector.fromMemorySegment(s, x, o, ORDER).fma(FloatVector.fromMemorySegment(s, y, o, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(s, x, o + vb, ORDER).fma(FloatVector.fromMemorySegment(s, y, o + vb, ORDER), a1);
            a2 = FloatVector.fromMemorySegment(s, x, o + 2 * vb, ORDER).fma(FloatVector.fromMemorySegment(s, y, o + 2 * vb, ORDER), a2);
            a3 = FloatVector.fromMemorySegment(s, x, o + 3 * vb, ORDER).fma(FloatVector.fromMemorySegment(s, y, o + 3 * vb, ORDER), a3);
        }
        for (; o <= end - vb; o += vb)
            a0 = FloatVector.fromMemorySegment(s, x, o, ORDER).fma(FloatVector.fromMemorySegment(s, y, o, ORDER), a0);
        float t = Lanes.sum(a0.add(a1).add(a2.add(a3)));
        for (; o < end; o += 4) t = Math.fma(x.get(F, o), y.get(F, o), t);
        return t;
    }

    static void axpy(Width w, float alpha, MemorySegment x, MemorySegment y, long from, int len) {
        if (x.getClass() != NATIVE || y.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector a = FloatVector.broadcast(s, alpha);
        for (; i <= len - 2 * l; i += 2 * l) {
            long o = (from + i) * 4, o2 = o + 4L * l;
            FloatVector x0 = FloatVector.fromMemorySegment(s, x, o, ORDER), x1 = FloatVector.fromMemorySegment(s, x, o2, ORDER);
            x0.fma(a, FloatVector.fromMemorySegment(s, y, o, ORDER)).intoMemorySegment(y, o, ORDER);
            x1.fma(a, FloatVector.fromMemorySegment(s, y, o2, ORDER)).intoMemorySegment(y, o2, ORDER);
        }
        for (; i <= len - l; i += l) {
            long o = (from + i) * 4;
            FloatVector.fromMemorySegment(s, x, o, ORDER).fma(a, FloatVector.fromMemorySegment(s, y, o, ORDER)).intoMemorySegment(y, o, ORDER);
        }
        for (; i < len; i++) y.setAtIndex(F, from + i, Math.fma(alpha, x.getAtIndex(F, from + i), y.getAtIndex(F, from + i)));
    }

    static void scal(Width w, float alpha, MemorySegment x, long from, int len) {
        if (x.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector a = FloatVector.broadcast(s, alpha);
        for (; i <= len - 2 * l; i += 2 * l) {
            long o = (from + i) * 4, o2 = o + 4L * l;
            FloatVector x0 = FloatVector.fromMemorySegment(s, x, o, ORDER), x1 = FloatVector.fromMemorySegment(s, x, o2, ORDER);
            x0.mul(a).intoMemorySegment(x, o, ORDER);
            x1.mul(a).intoMemorySegment(x, o2, ORDER);
        }
        for (; i <= len - l; i += l) {
            long o = (from + i) * 4;
            FloatVector.fromMemorySegment(s, x, o, ORDER).mul(a).intoMemorySegment(x, o, ORDER);
        }
        for (; i < len; i++) x.setAtIndex(F, from + i, alpha * x.getAtIndex(F, from + i));
    }

    // ---- f64 on native segments

    static double dotD(Width w, MemorySegment x, MemorySegment y, long from, int len) {
        if (x.getClass() != NATIVE || y.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.doubles();
        long vb = s.vectorByteSize(), o = from * 8, end = (from + len) * 8;
        DoubleVector a0 = DoubleVector.zero(s), a1 = a0, a2 = a0, a3 = a0;
        for (; o <= end - 4 * vb; o += 4 * vb) { // long induction variable, as in the f32 dot
            a0 = DoubleVector.fromMemorySegment(s, x, o, ORDER).fma(DoubleVector.fromMemorySegment(s, y, o, ORDER), a0);
            a1 = DoubleVector.fromMemorySegment(s, x, o + vb, ORDER).fma(DoubleVector.fromMemorySegment(s, y, o + vb, ORDER), a1);
            a2 = DoubleVector.fromMemorySegment(s, x, o + 2 * vb, ORDER).fma(DoubleVector.fromMemorySegment(s, y, o + 2 * vb, ORDER), a2);
            a3 = DoubleVector.fromMemorySegment(s, x, o + 3 * vb, ORDER).fma(DoubleVector.fromMemorySegment(s, y, o + 3 * vb, ORDER), a3);
        }
        for (; o <= end - vb; o += vb)
            a0 = DoubleVector.fromMemorySegment(s, x, o, ORDER).fma(DoubleVector.fromMemorySegment(s, y, o, ORDER), a0);
        double t = sum(a0.add(a1).add(a2.add(a3)));
        for (; o < end; o += 8) t = Math.fma(x.get(D, o), y.get(D, o), t);
        return t;
    }

    static void axpyD(Width w, double alpha, MemorySegment x, MemorySegment y, long from, int len) {
        if (x.getClass() != NATIVE || y.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.doubles();
        int l = s.length(), i = 0;
        DoubleVector a = DoubleVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) {
            long o = (from + i) * 8;
            DoubleVector.fromMemorySegment(s, x, o, ORDER).fma(a, DoubleVector.fromMemorySegment(s, y, o, ORDER)).intoMemorySegment(y, o, ORDER);
        }
        for (; i < len; i++) y.setAtIndex(D, from + i, Math.fma(alpha, x.getAtIndex(D, from + i), y.getAtIndex(D, from + i)));
    }

    static void scalD(Width w, double alpha, MemorySegment x, long from, int len) {
        if (x.getClass() != NATIVE) throw new AssertionError("native segments only");
        var s = w.doubles();
        int l = s.length(), i = 0;
        DoubleVector a = DoubleVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) {
            long o = (from + i) * 8;
            DoubleVector.fromMemorySegment(s, x, o, ORDER).mul(a).intoMemorySegment(x, o, ORDER);
        }
        for (; i < len; i++) x.setAtIndex(D, from + i, alpha * x.getAtIndex(D, from + i));
    }

    // ---- f32 on arrays: element i of an operand is array[base + i]

    static float dot(Width w, float[] x, int bx, float[] y, int by, int from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0, ox = bx + from, oy = by + from;
        FloatVector a0 = FloatVector.zero(s), a1 = a0, a2 = a0, a3 = a0;
        for (; i <= len - 4 * l; i += 4 * l) {
            a0 = FloatVector.fromArray(s, x, ox + i).fma(FloatVector.fromArray(s, y, oy + i), a0);
            a1 = FloatVector.fromArray(s, x, ox + i + l).fma(FloatVector.fromArray(s, y, oy + i + l), a1);
            a2 = FloatVector.fromArray(s, x, ox + i + 2 * l).fma(FloatVector.fromArray(s, y, oy + i + 2 * l), a2);
            a3 = FloatVector.fromArray(s, x, ox + i + 3 * l).fma(FloatVector.fromArray(s, y, oy + i + 3 * l), a3);
        }
        for (; i <= len - l; i += l) a0 = FloatVector.fromArray(s, x, ox + i).fma(FloatVector.fromArray(s, y, oy + i), a0);
        float t = Lanes.sum(a0.add(a1).add(a2.add(a3)));
        for (; i < len; i++) t = Math.fma(x[ox + i], y[oy + i], t);
        return t;
    }

    static void axpy(Width w, float alpha, float[] x, int bx, float[] y, int by, int from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0, ox = bx + from, oy = by + from;
        FloatVector a = FloatVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) FloatVector.fromArray(s, x, ox + i).fma(a, FloatVector.fromArray(s, y, oy + i)).intoArray(y, oy + i);
        for (; i < len; i++) y[oy + i] = Math.fma(alpha, x[ox + i], y[oy + i]);
    }

    static void scal(Width w, float alpha, float[] x, int bx, int from, int len) {
        var s = w.floats();
        int l = s.length(), i = 0, ox = bx + from;
        FloatVector a = FloatVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) FloatVector.fromArray(s, x, ox + i).mul(a).intoArray(x, ox + i);
        for (; i < len; i++) x[ox + i] = alpha * x[ox + i];
    }

    // ---- f64 on arrays

    static double dot(Width w, double[] x, int bx, double[] y, int by, int from, int len) {
        var s = w.doubles();
        int l = s.length(), i = 0, ox = bx + from, oy = by + from;
        DoubleVector a0 = DoubleVector.zero(s), a1 = a0, a2 = a0, a3 = a0;
        for (; i <= len - 4 * l; i += 4 * l) {
            a0 = DoubleVector.fromArray(s, x, ox + i).fma(DoubleVector.fromArray(s, y, oy + i), a0);
            a1 = DoubleVector.fromArray(s, x, ox + i + l).fma(DoubleVector.fromArray(s, y, oy + i + l), a1);
            a2 = DoubleVector.fromArray(s, x, ox + i + 2 * l).fma(DoubleVector.fromArray(s, y, oy + i + 2 * l), a2);
            a3 = DoubleVector.fromArray(s, x, ox + i + 3 * l).fma(DoubleVector.fromArray(s, y, oy + i + 3 * l), a3);
        }
        for (; i <= len - l; i += l) a0 = DoubleVector.fromArray(s, x, ox + i).fma(DoubleVector.fromArray(s, y, oy + i), a0);
        double t = sum(a0.add(a1).add(a2.add(a3)));
        for (; i < len; i++) t = Math.fma(x[ox + i], y[oy + i], t);
        return t;
    }

    static void axpy(Width w, double alpha, double[] x, int bx, double[] y, int by, int from, int len) {
        var s = w.doubles();
        int l = s.length(), i = 0, ox = bx + from, oy = by + from;
        DoubleVector a = DoubleVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) DoubleVector.fromArray(s, x, ox + i).fma(a, DoubleVector.fromArray(s, y, oy + i)).intoArray(y, oy + i);
        for (; i < len; i++) y[oy + i] = Math.fma(alpha, x[ox + i], y[oy + i]);
    }

    static void scal(Width w, double alpha, double[] x, int bx, int from, int len) {
        var s = w.doubles();
        int l = s.length(), i = 0, ox = bx + from;
        DoubleVector a = DoubleVector.broadcast(s, alpha);
        for (; i <= len - l; i += l) DoubleVector.fromArray(s, x, ox + i).mul(a).intoArray(x, ox + i);
        for (; i < len; i++) x[ox + i] = alpha * x[ox + i];
    }

    /** The lanes' sum in lane order ({@code reduceLanes(ADD)} has no fixed order; see {@link Lanes#sum}). */
    private static double sum(DoubleVector v) {
        double s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }
}
