package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One plane of a depthwise 3x3 correlation at unit stride and dilation with padding 1 (output as large as the
 * input), for rows longer than one vector and shorter than two (17..31 floats at 512 bits, 9..15 at 256:
 * MobileNet's 28x28 and 14x14 stages), with one load per output vector instead of nine: forward and
 * backward-data ({@link #plane}), and one plane pair of backward-weights ({@link #weightsPlane}).
 *
 * <p>Why: {@link Depthwise3x3}'s row loop is bound by its own instructions, not by memory, and most of them are
 * the nine unaligned loads per output vector (each one spans two cache lines at 512 bits), plus the stall when X
 * and Y share their 4 KB page offsets and a load right after a store matches its address bits. Here the plane
 * is one flat run of {@code H*W} floats, read as whole vectors at multiples of the vector length from the plane's
 * start. Output vector {@code p} needs the input at {@code p - W - 1 .. p + W + 1 + l}, which for such rows lies
 * in the five vectors {@code V[p-2l] .. V[p+2l]}; they stay in registers from one output vector to the next, so
 * each step loads one new vector, ahead of every store, and builds its eight shifted views with two-vector
 * permutes ({@code selectFrom}). Measured at C256 28x28 N=32, 1 thread, CPU time against the nine-load loops:
 * forward 1.6-1.85x, backward-data 1.3-1.4x, backward-weights 1.14x (bench/RESULTS.md, 2026-11-23, helper dw).
 *
 * <p>Edges: in the vectors that hold lanes of the first or last row, the shifted views of the row above or below
 * are zeroed in those lanes (a branch the other vectors skip); the window starts two vectors before the plane
 * and ends two after it, so the neighbouring planes' floats are loaded there and zeroed. (A separate nine-load
 * loop for those rows, as first written, cost 1.26x in all.) Columns: the left and right tap columns are summed
 * separately and zeroed in the lanes at a row's first or last column, from lane tables over the plane
 * ({@link Masks}). Sums: one per tap column over the three rows, added as centre + left + right + bias, the order of
 * {@link Depthwise3x3}'s loops, so a plane gets the same values either way (up to the sign of a zero).
 */
final class DepthwiseWindow {
    private DepthwiseWindow() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Whether a plane of this geometry (source sH x sW, output dH x dW, offsets as in Depthwise3x3's Plane) is one of these. */
    static boolean fits(int l, int sH, int sW, int dH, int dW, int sh, int dh, int dw, int offY, int offX) {
        return sh == 1 && dh == 1 && dw == 1 && offY == -1 && offX == -1 && dH == sH && dW == sW && sH >= 3 && sW > l && sW < 2 * l;
    }

    /** Lane tables over one plane: {@code left[e]} is false at a row's first column, {@code right[e]} at its last. */
    record Masks(boolean[] left, boolean[] right) {
        static Masks of(int l, int h, int w) {
            int n = h * w + l;
            boolean[] left = new boolean[n], right = new boolean[n];
            for (int e = 0; e < n; e++) {
                left[e] = e % w != 0;
                right[e] = e % w != w - 1;
            }
            return new Masks(left, right);
        }
    }

    /** Whether every load (from src element s0) and store (to dst element d0) of an h x w plane stays inside its tensor. */
    static boolean safe(int l, int h, int w, long s0, long srcLen, long d0, long dstLen) {
        long n = (long) h * w;
        long lastP = (n - 1) / l * l;
        return s0 - 2L * l >= 0 && s0 + lastP + 3L * l <= srcLen && d0 + lastP + l <= dstLen;
    }

    /** The plane's correlation; the taps (turned: by 180 degrees) are W[k0 .. k0+9). */
    static void plane(Width w, MemorySegment src, long s0, MemorySegment dst, long d0, MemorySegment wt, long k0, boolean turned,
                      float b0, int h, int wd, Masks masks) {
        // written out here, in the method C2 compiles: below it both segments are exactly native (see NativeSegments).
        // One method and one loop: vectors carried from one step to the next must not cross a call (they get boxed)
        if (src.getClass() != NativeSegments.CLASS || dst.getClass() != NativeSegments.CLASS) throw notNative(src, dst);
        VectorSpecies<Float> sp = w.floats();
        FloatVector k00 = FloatVector.broadcast(sp, weight(wt, k0, 0, turned)),
                k01 = FloatVector.broadcast(sp, weight(wt, k0, 1, turned)),
                k02 = FloatVector.broadcast(sp, weight(wt, k0, 2, turned));
        FloatVector k10 = FloatVector.broadcast(sp, weight(wt, k0, 3, turned)),
                k11 = FloatVector.broadcast(sp, weight(wt, k0, 4, turned)),
                k12 = FloatVector.broadcast(sp, weight(wt, k0, 5, turned));
        FloatVector k20 = FloatVector.broadcast(sp, weight(wt, k0, 6, turned)),
                k21 = FloatVector.broadcast(sp, weight(wt, k0, 7, turned)),
                k22 = FloatVector.broadcast(sp, weight(wt, k0, 8, turned));
        FloatVector bv = FloatVector.broadcast(sp, b0), zero = FloatVector.zero(sp), iota = zero.addIndex(1);
        boolean[] left = masks.left(), right = masks.right();
        int l = sp.length(), n = h * wd, bottom = (h - 1) * wd;
        // selectFrom(lo, hi) indices: the row above starts (2l - wd - 1) lanes into V[p-2l], the row below
        // (wd - 1 - l) lanes into V[p+l]; left and right neighbours in the row itself one lane either side
        int su = 2 * l - wd - 1, sd = wd - 1 - l;
        FloatVector iu0 = iota.add((float) su), iu1 = iota.add((float) (su + 1)), iu2 = iota.add((float) (su + 2));
        FloatVector id0 = iota.add((float) sd), id1 = iota.add((float) (sd + 1)), id2 = iota.add((float) (sd + 2));
        FloatVector ic0 = iota.add((float) (l - 1)), ic2 = iota.add(1f);
        long x = s0 * 4, y = d0 * 4; // bytes
        FloatVector vm2 = FloatVector.fromMemorySegment(sp, src, x - 8L * l, NATIVE), vm1 = FloatVector.fromMemorySegment(sp, src, x - 4L * l, NATIVE),
                v0 = FloatVector.fromMemorySegment(sp, src, x, NATIVE), vp1 = FloatVector.fromMemorySegment(sp, src, x + 4L * l, NATIVE);
        for (int p = 0; p < n; p += l) {
            FloatVector vp2 = FloatVector.fromMemorySegment(sp, src, x + 4L * p + 8L * l, NATIVE);
            FloatVector u0 = iu0.selectFrom(vm2, vm1), u1 = iu1.selectFrom(vm2, vm1), u2 = iu2.selectFrom(vm2, vm1);
            FloatVector e0 = id0.selectFrom(vp1, vp2), e1 = id1.selectFrom(vp1, vp2), e2 = id2.selectFrom(vp1, vp2);
            if (p < wd || p + l > bottom) { // lanes in the first or last row: the row beyond the plane adds nothing
                FloatVector e = iota.add((float) p);
                VectorMask<Float> top = e.compare(VectorOperators.GE, (float) wd), bot = e.compare(VectorOperators.LT, (float) bottom);
                u0 = zero.blend(u0, top); u1 = zero.blend(u1, top); u2 = zero.blend(u2, top);
                e0 = zero.blend(e0, bot); e1 = zero.blend(e1, bot); e2 = zero.blend(e2, bot);
            }
            FloatVector aL = u0.mul(k00), aC = u1.mul(k01), aR = u2.mul(k02);
            aL = ic0.selectFrom(vm1, v0).fma(k10, aL);
            aC = v0.fma(k11, aC);
            aR = ic2.selectFrom(v0, vp1).fma(k12, aR);
            aL = e0.fma(k20, aL);
            aC = e1.fma(k21, aC);
            aR = e2.fma(k22, aR);
            FloatVector sum = aC.add(zero.blend(aL, VectorMask.fromArray(sp, left, p))).add(zero.blend(aR, VectorMask.fromArray(sp, right, p))).add(bv);
            if (p + l <= n) sum.intoMemorySegment(dst, y + 4L * p, NATIVE);
            else sum.intoMemorySegment(dst, y + 4L * p, NATIVE, iota.add((float) p).compare(VectorOperators.LT, (float) n));
            vm2 = vm1;
            vm1 = v0;
            v0 = vp1;
            vp1 = vp2;
        }
    }

    /** As {@link #safe}, for backward-weights: the X plane at xb (the window's loads) and the dY plane at yb. */
    static boolean weightsSafe(int l, int h, int w, long xb, long xLen, long yb, long yLen) {
        long lastP = ((long) h * w - 1) / l * l;
        return xb - 2L * l >= 0 && xb + lastP + 3L * l <= xLen && yb + lastP + l <= yLen;
    }

    /**
     * Backward-weights of one plane pair: adds sum over e of dY[e] * X[e + (ry-1)*w + (sx-1)] (only where that X
     * element lies in the plane) into the nine lane accumulators acc[at0 + t*l], t = ry*3 + sx. X is read through
     * the same register window as {@link #plane}; dY one vector a step, zeroed in the lanes past the plane and,
     * for the left and right tap columns, at a row's first or last column.
     */
    static void weightsPlane(Width w, MemorySegment x, long xb, MemorySegment dy, long yb, float[] acc, int at0, int h, int wd, Masks masks) {
        // written out here, in the method C2 compiles: below it both segments are exactly native (see NativeSegments)
        if (x.getClass() != NativeSegments.CLASS || dy.getClass() != NativeSegments.CLASS) throw notNative(x, dy);
        VectorSpecies<Float> sp = w.floats();
        int l = sp.length(), n = h * wd, bottom = (h - 1) * wd;
        FloatVector zero = FloatVector.zero(sp), iota = zero.addIndex(1);
        boolean[] left = masks.left(), right = masks.right();
        FloatVector a00 = FloatVector.fromArray(sp, acc, at0), a01 = FloatVector.fromArray(sp, acc, at0 + l),
                a02 = FloatVector.fromArray(sp, acc, at0 + 2 * l), a10 = FloatVector.fromArray(sp, acc, at0 + 3 * l),
                a11 = FloatVector.fromArray(sp, acc, at0 + 4 * l), a12 = FloatVector.fromArray(sp, acc, at0 + 5 * l),
                a20 = FloatVector.fromArray(sp, acc, at0 + 6 * l), a21 = FloatVector.fromArray(sp, acc, at0 + 7 * l),
                a22 = FloatVector.fromArray(sp, acc, at0 + 8 * l);
        int su = 2 * l - wd - 1, sd = wd - 1 - l; // as in plane
        FloatVector iu0 = iota.add((float) su), iu1 = iota.add((float) (su + 1)), iu2 = iota.add((float) (su + 2));
        FloatVector id0 = iota.add((float) sd), id1 = iota.add((float) (sd + 1)), id2 = iota.add((float) (sd + 2));
        FloatVector ic0 = iota.add((float) (l - 1)), ic2 = iota.add(1f);
        long xs = xb * 4, ys = yb * 4; // bytes
        FloatVector vm2 = FloatVector.fromMemorySegment(sp, x, xs - 8L * l, NATIVE), vm1 = FloatVector.fromMemorySegment(sp, x, xs - 4L * l, NATIVE),
                v0 = FloatVector.fromMemorySegment(sp, x, xs, NATIVE), vp1 = FloatVector.fromMemorySegment(sp, x, xs + 4L * l, NATIVE);
        for (int p = 0; p < n; p += l) {
            FloatVector vp2 = FloatVector.fromMemorySegment(sp, x, xs + 4L * p + 8L * l, NATIVE);
            FloatVector d = FloatVector.fromMemorySegment(sp, dy, ys + 4L * p, NATIVE);
            FloatVector u0 = iu0.selectFrom(vm2, vm1), u1 = iu1.selectFrom(vm2, vm1), u2 = iu2.selectFrom(vm2, vm1);
            FloatVector e0 = id0.selectFrom(vp1, vp2), e1 = id1.selectFrom(vp1, vp2), e2 = id2.selectFrom(vp1, vp2);
            if (p < wd || p + l > bottom) { // lanes in the first or last row (rows beyond the plane add nothing), or past the plane
                FloatVector e = iota.add((float) p);
                VectorMask<Float> top = e.compare(VectorOperators.GE, (float) wd), bot = e.compare(VectorOperators.LT, (float) bottom);
                u0 = zero.blend(u0, top); u1 = zero.blend(u1, top); u2 = zero.blend(u2, top);
                e0 = zero.blend(e0, bot); e1 = zero.blend(e1, bot); e2 = zero.blend(e2, bot);
                d = zero.blend(d, e.compare(VectorOperators.LT, (float) n));
            }
            FloatVector dl = zero.blend(d, VectorMask.fromArray(sp, left, p)), dr = zero.blend(d, VectorMask.fromArray(sp, right, p));
            a00 = u0.fma(dl, a00); a01 = u1.fma(d, a01); a02 = u2.fma(dr, a02);
            a10 = ic0.selectFrom(vm1, v0).fma(dl, a10); a11 = v0.fma(d, a11); a12 = ic2.selectFrom(v0, vp1).fma(dr, a12);
            a20 = e0.fma(dl, a20); a21 = e1.fma(d, a21); a22 = e2.fma(dr, a22);
            vm2 = vm1;
            vm1 = v0;
            v0 = vp1;
            vp1 = vp2;
        }
        a00.intoArray(acc, at0);
        a01.intoArray(acc, at0 + l);
        a02.intoArray(acc, at0 + 2 * l);
        a10.intoArray(acc, at0 + 3 * l);
        a11.intoArray(acc, at0 + 4 * l);
        a12.intoArray(acc, at0 + 5 * l);
        a20.intoArray(acc, at0 + 6 * l);
        a21.intoArray(acc, at0 + 7 * l);
        a22.intoArray(acc, at0 + 8 * l);
    }

    private static float weight(MemorySegment wt, long k0, int t, boolean turned) {
        return wt.getAtIndex(F, k0 + (turned ? 8 - t : t));
    }

    private static IllegalStateException notNative(MemorySegment a, MemorySegment b) {
        return new IllegalStateException("depthwise 3x3: vector loops need native segments, got " + a.getClass().getSimpleName()
                + " and " + b.getClass().getSimpleName());
    }
}
