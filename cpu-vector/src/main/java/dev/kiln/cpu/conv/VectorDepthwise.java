package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Direct depthwise convolution (regular, groups == c, so each output channel o reads the one input channel
 * o / (k/c)): im2col would copy each input r*s times to multiply by a single weight, so these loops run over
 * output rows instead, vectorised along the row when strideW == 1, and in backward-data and
 * backward-weights also when strideW == 2 (the even columns picked from, and put back into, two vectors
 * with two-vector selects); scalar otherwise. 3x3 kernels with strideW == 1 (backward-data also
 * strideH == 1 and multiplier 1), and the forward of 3x3 kernels with strideW == 2, go to
 * {@link Depthwise3x3}, which keeps the output vector and the taps in registers; the row loops here serve
 * the other shapes. Operands that are not native segments (a caller's arrays) are copied to
 * native memory for the call first ({@link NativeSegments#staged}). Tasks: one output
 * plane (forward), one input plane (backward-data), one output channel over all images (backward-weights,
 * images in order), so each output element belongs to one task and results do not depend on the thread
 * count. Accumulation is f32 with FMA, taps in (ry, sx) order.
 */
final class VectorDepthwise {
    private VectorDepthwise() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    static boolean supports(ConvDesc d) { return !d.transposed() && d.groups() == d.c() && d.groups() > 1; }

    private static final ThreadLocal<float[][]> ROW = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    static void run(Width w, ConvDesc d, Args a) {
        if (!NativeSegments.all(d, a)) { // heap arrays or mapped files: the loops below are compiled for native segments only
            NativeSegments.staged(d, a, copies -> run(w, d, copies));
            return;
        }
        ConvGeom g = ConvGeom.of(d);
        boolean taps3 = g.r() == 3 && g.s() == 3 && g.sw() == 1;
        switch (d.pass()) {
            case FORWARD -> {
                MemorySegment bias = d.bias() ? a.host(Arg.BIAS) : null;
                if (taps3) Depthwise3x3.forward(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), a.host(Arg.DST), bias);
                else if (g.r() == 3 && g.s() == 3 && g.sw() == 2)
                    Depthwise3x3.forwardStride2(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), a.host(Arg.DST), bias);
                else forward(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), a.host(Arg.DST), bias);
            }
            case BACKWARD_DATA -> {
                if (taps3 && g.sh() == 1 && g.cyg() == 1)
                    Depthwise3x3.data(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), a.host(Arg.DIFF_SRC));
                else data(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), a.host(Arg.DIFF_SRC));
            }
            case BACKWARD_WEIGHTS -> {
                if (taps3) Depthwise3x3.weights(w, g, a.host(Arg.SRC), a.host(Arg.DIFF_DST), a.host(Arg.DIFF_WEIGHTS));
                else weights(w, g, a.host(Arg.SRC), a.host(Arg.DIFF_DST), a.host(Arg.DIFF_WEIGHTS));
                if (d.bias()) VectorConv.biasGrad(w, d.n(), d.k(), d.p() * d.q(), a.host(Arg.DIFF_DST), a.host(Arg.DIFF_BIAS));
            }
        }
    }

    /** First ox with ix = ox*sw + off >= 0 and one past the last with ix < wx, clamped to [0, wy]. */
    private static int lo(ConvGeom g, int off) { return Math.min(g.wy(), Math.max(0, -Math.floorDiv(off, g.sw()))); }

    private static int hi(ConvGeom g, int off, int lo) {
        return Math.max(lo, Math.min(g.wy(), Math.floorDiv(g.wx() - 1 - off, g.sw()) + 1));
    }

    private static void forward(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        int taps = g.r() * g.s(), mult = g.cyg();
        CpuThreads.parallelFor(g.n() * g.cy(), plane -> {
            int b = plane / g.cy(), o = plane % g.cy();
            float[][] holder = ROW.get();
            // a vector of slack, so masked tails never reach past the end (the Vector API's slow path)
            if (holder[0].length < g.wy() + 64) holder[0] = new float[g.wy() + 64];
            float[] acc = holder[0];
            long xb = ((long) b * g.cx() + o / mult) * g.xPlane(), yb = (long) plane * g.yPlane();
            float b0 = bias == null ? 0 : bias.getAtIndex(F, o);
            for (int oy = 0; oy < g.hy(); oy++) {
                java.util.Arrays.fill(acc, 0, g.wy(), 0f);
                for (int ry = 0; ry < g.r(); ry++) {
                    int iy = oy * g.sh() - g.ph() + ry * g.dh();
                    if (iy < 0 || iy >= g.hx()) continue;
                    for (int sx = 0; sx < g.s(); sx++) {
                        int off = sx * g.dw() - g.pw(), lo = lo(g, off), hi = hi(g, off, lo);
                        float wv = wt.getAtIndex(F, (long) o * taps + ry * g.s() + sx);
                        fmaRow(w, acc, lo, hi, wv, x, xb + (long) iy * g.wx() + off, g.sw());
                    }
                }
                long row = yb + (long) oy * g.wy();
                storeRow(w, acc, g.wy(), b0, y, row);
            }
        });
    }

    /** y[row + i] = acc[i] + b0 for i in [0, count). */
    private static void storeRow(Width w, float[] acc, int count, float b0, MemorySegment y, long row) {
        var sp = w.floats();
        FloatVector bv = FloatVector.broadcast(sp, b0);
        int i = 0;
        for (; i <= count - sp.length(); i += sp.length())
            FloatVector.fromArray(sp, acc, i).add(bv).intoMemorySegment(y, (row + i) * 4, NATIVE);
        for (; i < count; i++) y.setAtIndex(F, row + i, acc[i] + b0);
    }

    /** acc[ox] += wv * x[src + ox*sw] for ox in [lo, hi). */
    private static void fmaRow(Width w, float[] acc, int lo, int hi, float wv, MemorySegment x, long src, int sw) {
        var sp = w.floats();
        int l = sp.length(), ox = lo;
        if (sw == 1) {
            FloatVector vw = FloatVector.broadcast(sp, wv);
            for (; ox <= hi - l; ox += l)
                FloatVector.fromMemorySegment(sp, x, (src + ox) * 4, NATIVE).fma(vw, FloatVector.fromArray(sp, acc, ox)).intoArray(acc, ox);
        }
        if (sw == 1 && ox < hi && (src + ox + l) * 4 <= x.byteSize()) {
            var m = sp.indexInRange(ox, hi);
            FloatVector.fromMemorySegment(sp, x, (src + ox) * 4, NATIVE, m)
                    .fma(FloatVector.broadcast(sp, wv), FloatVector.fromArray(sp, acc, ox, m)).intoArray(acc, ox, m);
            return;
        }
        for (; ox < hi; ox++) acc[ox] = Math.fma(x.getAtIndex(F, src + (long) ox * sw), wv, acc[ox]);
    }

    private static void data(Width w, ConvGeom g, MemorySegment y, MemorySegment wt, MemorySegment x) {
        int taps = g.r() * g.s(), mult = g.cyg();
        CpuThreads.parallelFor(g.n() * g.cx(), plane -> {
            int b = plane / g.cx(), ci = plane % g.cx();
            long xb = (long) plane * g.xPlane();
            x.asSlice(xb * 4, (long) g.xPlane() * 4).fill((byte) 0);
            for (int o = ci * mult; o < (ci + 1) * mult; o++) {
                long yb = ((long) b * g.cy() + o) * g.yPlane();
                for (int oy = 0; oy < g.hy(); oy++)
                    for (int ry = 0; ry < g.r(); ry++) {
                        int iy = oy * g.sh() - g.ph() + ry * g.dh();
                        if (iy < 0 || iy >= g.hx()) continue;
                        for (int sx = 0; sx < g.s(); sx++) {
                            int off = sx * g.dw() - g.pw(), lo = lo(g, off), hi = hi(g, off, lo);
                            float wv = wt.getAtIndex(F, (long) o * taps + ry * g.s() + sx);
                            scatterRow(w, y, yb + (long) oy * g.wy(), lo, hi, wv, x, xb + (long) iy * g.wx() + off, g.sw(), xb + g.xPlane());
                        }
                    }
            }
        });
    }

    /** x[dst + ox*sw] += wv * y[src + ox] for ox in [lo, hi); x below planeEnd belongs to this task. */
    private static void scatterRow(Width w, MemorySegment y, long src, int lo, int hi, float wv, MemorySegment x, long dst, int sw,
                                   long planeEnd) {
        var sp = w.floats();
        int l = sp.length(), ox = lo;
        if (sw == 2 && hi - lo >= l) ox = scatterEven(w, y, src, lo, hi, wv, x, dst, planeEnd);
        if (sw == 1) {
            FloatVector vw = FloatVector.broadcast(sp, wv);
            for (; ox <= hi - l; ox += l) {
                long at = (dst + ox) * 4;
                FloatVector.fromMemorySegment(sp, y, (src + ox) * 4, NATIVE).fma(vw, FloatVector.fromMemorySegment(sp, x, at, NATIVE))
                        .intoMemorySegment(x, at, NATIVE);
            }
        }
        if (sw == 1 && ox < hi && (src + ox + l) * 4 <= y.byteSize() && (dst + ox + l) * 4 <= x.byteSize()) {
            var m = sp.indexInRange(ox, hi);
            long at = (dst + ox) * 4;
            FloatVector.fromMemorySegment(sp, y, (src + ox) * 4, NATIVE, m)
                    .fma(FloatVector.broadcast(sp, wv), FloatVector.fromMemorySegment(sp, x, at, NATIVE, m)).intoMemorySegment(x, at, NATIVE, m);
            return;
        }
        for (; ox < hi; ox++) {
            long at = dst + (long) ox * sw;
            x.setAtIndex(F, at, Math.fma(y.getAtIndex(F, src + ox), wv, x.getAtIndex(F, at)));
        }
    }

    /**
     * Select indices for putting a vector r of results back into the even lanes of two vectors (a, b) of x, by
     * lane count l: TAKE[l][i] = i/2 (from r) for even i, l + i (a's own lane) for odd; TAKE_HIGH likewise with
     * (l + i)/2 for b.
     */
    private static final float[][] TAKE = new float[17][], TAKE_HIGH = new float[17][];

    static {
        for (int l = 4; l <= 16; l *= 2) {
            TAKE[l] = new float[l];
            TAKE_HIGH[l] = new float[l];
            for (int i = 0; i < l; i++) {
                TAKE[l][i] = i % 2 == 0 ? i / 2 : l + i;
                TAKE_HIGH[l][i] = i % 2 == 0 ? (l + i) / 2 : l + i;
            }
        }
    }

    /**
     * Horizontal stride 2 of {@link #scatterRow}: x[dst + 2ox] += wv * y[src + ox] a vector of ox at a time, as
     * far as the two vectors of x it spans stay inside this task's plane (the odd columns between are written
     * back unchanged, so they must not belong to another task); returns the first ox not done. The even columns
     * are picked from the two vectors with one two-vector select and put back with two, and each is the same
     * fma as the scalar loop's, so the result is bit for bit that of the scalar loop.
     */
    private static int scatterEven(Width w, MemorySegment y, long src, int lo, int hi, float wv, MemorySegment x, long dst, long planeEnd) {
        if (y.getClass() != NativeSegments.CLASS || x.getClass() != NativeSegments.CLASS) // see NativeSegments
            throw new IllegalStateException("depthwise loops take native segments only; run() stages the others");
        var sp = w.floats();
        int l = sp.length(), ox = lo;
        FloatVector even = FloatVector.zero(sp).addIndex(2), vw = FloatVector.broadcast(sp, wv);
        FloatVector take = FloatVector.fromArray(sp, TAKE[l], 0), takeHigh = FloatVector.fromArray(sp, TAKE_HIGH[l], 0);
        for (; ox <= hi - l && dst + 2L * (ox + l) <= planeEnd; ox += l) {
            long at = (dst + 2L * ox) * 4;
            FloatVector a = FloatVector.fromMemorySegment(sp, x, at, NATIVE), b = FloatVector.fromMemorySegment(sp, x, at + 4L * l, NATIVE);
            FloatVector r = FloatVector.fromMemorySegment(sp, y, (src + ox) * 4, NATIVE).fma(vw, even.selectFrom(a, b));
            take.selectFrom(r, a).intoMemorySegment(x, at, NATIVE);
            takeHigh.selectFrom(r, b).intoMemorySegment(x, at + 4L * l, NATIVE);
        }
        return ox;
    }

    private static void weights(Width w, ConvGeom g, MemorySegment x, MemorySegment y, MemorySegment dw) {
        int taps = g.r() * g.s(), mult = g.cyg();
        CpuThreads.parallelFor(g.cy(), o -> {
            for (int ry = 0; ry < g.r(); ry++)
                for (int sx = 0; sx < g.s(); sx++) {
                    int off = sx * g.dw() - g.pw(), lo = lo(g, off), hi = hi(g, off, lo);
                    float sum = 0;
                    for (int b = 0; b < g.n(); b++) {
                        long xb = ((long) b * g.cx() + o / mult) * g.xPlane(), yb = ((long) b * g.cy() + o) * g.yPlane();
                        for (int oy = 0; oy < g.hy(); oy++) {
                            int iy = oy * g.sh() - g.ph() + ry * g.dh();
                            if (iy < 0 || iy >= g.hx()) continue;
                            sum += dotRow(w, y, yb + (long) oy * g.wy(), lo, hi, x, xb + (long) iy * g.wx() + off, g.sw());
                        }
                    }
                    dw.setAtIndex(F, (long) o * taps + ry * g.s() + sx, sum);
                }
        });
    }

    /** sum of y[src + ox] * x[xs + ox*sw] over ox in [lo, hi). */
    private static float dotRow(Width w, MemorySegment y, long src, int lo, int hi, MemorySegment x, long xs, int sw) {
        var sp = w.floats();
        int l = sp.length(), ox = lo;
        float tail = 0;
        if (sw == 1 && hi - lo >= l) {
            FloatVector acc = FloatVector.zero(sp);
            for (; ox <= hi - l; ox += l)
                acc = FloatVector.fromMemorySegment(sp, y, (src + ox) * 4, NATIVE)
                        .fma(FloatVector.fromMemorySegment(sp, x, (xs + ox) * 4, NATIVE), acc);
            tail = Lanes.sum(acc);
        }
        if (sw == 2 && hi - lo >= l) { // whole vectors whose two loads of x stay inside x
            long fit = Math.max(0, (x.byteSize() / 4 - xs - 2L * lo) / (2L * l));
            ox = lo + (int) Math.min((hi - lo) / l, fit) * l;
            if (ox > lo) tail = dotEven(w, y, src, lo, ox, x, xs);
        }
        for (; ox < hi; ox++) tail = Math.fma(y.getAtIndex(F, src + ox), x.getAtIndex(F, xs + (long) ox * sw), tail);
        return tail;
    }

    /**
     * Horizontal stride 2 of {@link #dotRow} over whole vectors, ox in [lo, end): the even columns picked from
     * two vectors of x with one two-vector select.
     */
    private static float dotEven(Width w, MemorySegment y, long src, int lo, int end, MemorySegment x, long xs) {
        if (y.getClass() != NativeSegments.CLASS || x.getClass() != NativeSegments.CLASS) // see NativeSegments
            throw new IllegalStateException("depthwise loops take native segments only; run() stages the others");
        var sp = w.floats();
        int l = sp.length(), ox = lo;
        FloatVector even = FloatVector.zero(sp).addIndex(2), acc = FloatVector.zero(sp);
        for (; ox < end; ox += l) {
            long at = (xs + 2L * ox) * 4;
            FloatVector a = FloatVector.fromMemorySegment(sp, x, at, NATIVE), b = FloatVector.fromMemorySegment(sp, x, at + 4L * l, NATIVE);
            acc = FloatVector.fromMemorySegment(sp, y, (src + ox) * 4, NATIVE).fma(even.selectFrom(a, b), acc);
        }
        return Lanes.sum(acc);
    }
}
