package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Depthwise 3x3 convolutions with unit horizontal stride (any vertical stride, padding and dilation), the
 * MobileNet-style layer, at memory speed: the nine taps are broadcast into registers once per plane, and each
 * vector of output columns is summed in registers from nine shifted loads of three input rows, as three sums
 * (one per tap column: left, centre, right) added at the end, then stored once. The general row loop in
 * {@link VectorDepthwise} instead streams a row accumulator through memory for every tap (nine loads and stores
 * per output vector) and re-derives the tap's column range each time.
 *
 * <p>Padding: out-of-plane rows are skipped; columns outside the row are loaded anyway (unmasked full
 * vectors, from the neighbouring row or plane), and each tap column's sum is zeroed with a blend in the lanes
 * where that column lies outside the row (masks computed once per vector of columns and plane), so those
 * lanes add exactly 0, as the reference, which skips them. One blend per sum rather than per load: a third of
 * the blends. Not masked loads: C2 compiled those about 2x slower than load + blend here, and not a padded
 * copy of the plane (an earlier attempt measured 0.41x the row loop). A plane whose vectors would reach past
 * either end of the tensor (the first and last plane at most) is done element by element in the same order,
 * see {@link Plane#vectorSafe}.
 *
 * <p>Where the time goes (C256 28x28, measured 2026-11-23): the loop is bound by its own instructions, not by
 * memory: it runs as fast with the operands in L2 as from DRAM. Eight of the nine loads of each output vector
 * are unaligned (a 512-bit one then always spans two cache lines; aligned stand-ins ran 1.4x faster), and
 * when X and Y sit at the same offset in their 4 KB pages (two arena allocations usually do) the loads right
 * after a store share its address bits and wait for it (1.04-1.2x). Planes with padding 1 and rows between one
 * and two vectors long (28 at 512 bits, 14 at 256) therefore go to {@link DepthwiseWindow}, one load per
 * output vector, in all three passes; the rest to {@link #correlate} and {@link #weightsPlane} here.
 *
 * <p>Tasks and order: forward and backward-data own runs of whole output planes (see {@link #eachPlane});
 * backward-weights owns (image group,
 * channel block) with nine vector accumulators per channel, reduced in lane order and then over the fixed
 * image groups in order, so every result is the same for any thread count. Forward with horizontal stride 2
 * runs the stride-1 loop into scratch and keeps every second column ({@link #forwardStride2}).
 *
 * <p>Segments: the vector loops take native segments only and say so in their first line, which also makes
 * their speed independent of what ran earlier in the JVM (see {@link NativeSegments}); {@link
 * VectorDepthwise} stages other operands.
 */
final class Depthwise3x3 {
    private Depthwise3x3() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * One plane-to-plane correlation: {@code dst[i][j] = sum over (ry, sx) of k[ry][sx] *
     * src[i*sh + offY + ry*dh][j + offX + sx*dw]}, zero outside src.
     */
    private record Plane(int sH, int sW, int dH, int dW, int sh, int offY, int dh, int offX, int dw) {
        /**
         * Whether every vector load (l lanes, from src element s0) and store (to dst element d0) of this plane
         * lies inside its tensor. Unmasked loads need it; masked ones would take the Vector API's per-lane Java
         * path there, and once C2 had seen that path it boxed the loop's vectors (measured about 5x slower).
         * Such planes, the first and last of a tensor at most, go to {@link #scalar} instead.
         */
        boolean vectorSafe(int l, long s0, long srcLen, long d0, long dstLen) {
            long lastJ = (long) (dW - 1) / l * l;
            return s0 + Math.min(0, offX) >= 0 && s0 + (long) (sH - 1) * sW + lastJ + offX + 2L * dw + l <= srcLen
                    && d0 + (long) (dH - 1) * dW + lastJ + l <= dstLen;
        }

        /** {@link DepthwiseWindow}'s lane tables when its loop fits this geometry at l lanes, else null. */
        DepthwiseWindow.Masks windowMasks(int l) {
            return DepthwiseWindow.fits(l, sH, sW, dH, dW, sh, dh, dw, offY, offX) ? DepthwiseWindow.Masks.of(l, sH, sW) : null;
        }

        /**
         * The vector loop's sums element by element, in the same order (one sum per tap column over the rows, the
         * first row a product; centre + left + right + bias), so the same bits.
         */
        void scalar(MemorySegment src, long s0, MemorySegment dst, long d0, MemorySegment wt, long k0, boolean turned, float b0) {
            float[] sums = new float[3];
            for (int i = 0; i < dH; i++)
                for (int j = 0; j < dW; j++) {
                    for (int sx = 0; sx < 3; sx++) {
                        int c = j + offX + sx * dw;
                        float acc = 0;
                        for (int ry = 0; ry < 3 && c >= 0 && c < sW; ry++) {
                            int r = i * sh + offY + ry * dh, t = ry * 3 + sx;
                            if (r < 0 || r >= sH) continue;
                            float v = src.getAtIndex(F, s0 + (long) r * sW + c), k = wt.getAtIndex(F, k0 + (turned ? 8 - t : t));
                            acc = ry == 0 ? v * k : Math.fma(v, k, acc);
                        }
                        sums[sx] = acc;
                    }
                    dst.setAtIndex(F, d0 + (long) i * dW + j, sums[1] + sums[0] + sums[2] + b0);
                }
        }
    }

    /** Output floats per forward or backward-data task, about: 64 KB of output, a few tens of microseconds. */
    private static final int TASK_FLOATS = 16 * 1024;

    /**
     * Runs {@code body} for planes 0 .. planes-1 on the CPU threads, as tasks of whole consecutive planes (about
     * {@link #TASK_FLOATS} output floats each; at least one plane). With one small plane a task (3 KB at 28x28),
     * the task counter's cache line moved between the cores for every plane and two threads ran slower than one
     * (2.6 vs 2.0 ms at C256 28x28 N=32). Every plane is computed the same way whichever task holds it, so the
     * grouping changes no result.
     */
    private static void eachPlane(int planes, long planeFloats, java.util.function.IntConsumer body) {
        int per = (int) Math.max(1, TASK_FLOATS / Math.max(1, planeFloats));
        CpuThreads.parallelFor(Math.ceilDiv(planes, per), task -> {
            for (int plane = task * per, end = Math.min(planes, plane + per); plane < end; plane++) body.accept(plane);
        });
    }

    /** Y = W * X (+ bias); each output channel o reads input channel o / multiplier. */
    static void forward(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        int mult = g.cyg();
        Plane p = new Plane(g.hx(), g.wx(), g.hy(), g.wy(), g.sh(), -g.ph(), g.dh(), -g.pw(), g.dw());
        DepthwiseWindow.Masks masks = p.windowMasks(w.floats().length());
        eachPlane(g.n() * g.cy(), g.yPlane(), plane -> {
            int b = plane / g.cy(), o = plane % g.cy();
            float b0 = bias == null ? 0 : bias.getAtIndex(F, o);
            long s0 = ((long) b * g.cx() + o / mult) * g.xPlane(), d0 = (long) plane * g.yPlane();
            onePlane(w, p, masks, x, s0, y, d0, wt, o * 9L, false, b0);
        });
    }

    /** Per-thread native scratch of {@link #forwardStride2} (native, so that its loops stay compiled for one segment class). */
    private static final ThreadLocal<MemorySegment[]> WIDE = ThreadLocal.withInitial(() -> new MemorySegment[] {MemorySegment.NULL});

    /**
     * Forward with horizontal stride 2 (MobileNet's downsampling layers): each plane is first correlated at
     * horizontal stride 1 into per-thread scratch by the stride-1 vector loop (vertical stride, padding and
     * dilation as given), then every second column is picked out with two-vector permutes. Twice the FMAs of
     * a direct stride-2 loop, but the tensors are still read and written once, and the loop stays the one
     * tested and tuned above; the row loop it replaces did stride 2 element by element.
     */
    static void forwardStride2(Width w, ConvGeom g, MemorySegment x, MemorySegment wt, MemorySegment y, MemorySegment bias) {
        int mult = g.cyg(), l = w.floats().length(), wide = g.wx() + 2 * g.pw() - 2 * g.dw(); // stride-1 output columns
        Plane p = new Plane(g.hx(), g.wx(), g.hy(), wide, g.sh(), -g.ph(), g.dh(), -g.pw(), g.dw());
        long scratchFloats = (long) g.hy() * wide + 2L * l; // pickEven reads two vectors from the last pair of columns
        eachPlane(g.n() * g.cy(), g.yPlane(), plane -> {
            int b = plane / g.cy(), o = plane % g.cy();
            MemorySegment[] holder = WIDE.get();
            if (holder[0].byteSize() < scratchFloats * 4) holder[0] = java.lang.foreign.Arena.ofAuto().allocate(scratchFloats * 4, 64);
            MemorySegment s = holder[0];
            float b0 = bias == null ? 0 : bias.getAtIndex(F, o);
            long s0 = ((long) b * g.cx() + o / mult) * g.xPlane(), d0 = (long) plane * g.yPlane();
            if (p.vectorSafe(l, s0, x.byteSize() / 4, 0, s.byteSize() / 4)) correlate(w, p, x, s0, s, 0, wt, o * 9L, false, b0);
            else p.scalar(x, s0, s, 0, wt, o * 9L, false, b0);
            pickEven(w, s, wide, y, d0, g.hy(), g.wy());
        });
    }

    /** dst[d0 + i*n + j] = src[i*wide + 2j] for i < rows, j < n; src has two vectors of slack past its last row. */
    private static void pickEven(Width w, MemorySegment src, int wide, MemorySegment dst, long d0, int rows, int n) {
        if (src.getClass() != NativeSegments.CLASS || dst.getClass() != NativeSegments.CLASS) throw notNative(src, dst); // as in correlate
        VectorSpecies<Float> sp = w.floats();
        int l = sp.length();
        FloatVector zero = FloatVector.zero(sp), iota = zero.addIndex(1), even = zero.addIndex(2);
        long dstLen = dst.byteSize() / 4;
        for (int i = 0; i < rows; i++) {
            long from = (long) i * wide, to = d0 + (long) i * n;
            int j = 0;
            for (; j < n && to + j + l <= dstLen; j += l) { // a masked store reaching past the tensor would take the slow path
                long at = (from + 2L * j) * 4;
                FloatVector lo = FloatVector.fromMemorySegment(sp, src, at, NATIVE), hi = FloatVector.fromMemorySegment(sp, src, at + 4L * l, NATIVE);
                even.selectFrom(lo, hi).intoMemorySegment(dst, (to + j) * 4, NATIVE, inRow(iota, j, n));
            }
            for (; j < n; j++) dst.setAtIndex(F, to + j, src.getAtIndex(F, from + 2L * j));
        }
    }

    /**
     * dX from dY for stride 1 and multiplier 1: the correlation of dY's plane with the taps turned by 180
     * degrees, offset by {@code pad - 2*dilation}, so each dX element is also written once.
     */
    static void data(Width w, ConvGeom g, MemorySegment dy, MemorySegment wt, MemorySegment dx) {
        Plane p = new Plane(g.hy(), g.wy(), g.hx(), g.wx(), 1, g.ph() - 2 * g.dh(), g.dh(), g.pw() - 2 * g.dw(), g.dw());
        DepthwiseWindow.Masks masks = p.windowMasks(w.floats().length());
        eachPlane(g.n() * g.cx(), g.xPlane(), plane -> {
            int o = plane % g.cx();
            long s0 = (long) plane * g.yPlane(), d0 = (long) plane * g.xPlane();
            onePlane(w, p, masks, dy, s0, dx, d0, wt, o * 9L, true, 0f);
        });
    }

    /**
     * One plane by the fastest loop that fits it: {@link DepthwiseWindow} (masks non-null: its geometry, and the
     * plane's loads stay inside the tensor), else {@link #correlate}, else element by element.
     */
    private static void onePlane(Width w, Plane p, DepthwiseWindow.Masks masks, MemorySegment src, long s0, MemorySegment dst, long d0,
                                 MemorySegment wt, long k0, boolean turned, float b0) {
        int l = w.floats().length();
        long srcLen = src.byteSize() / 4, dstLen = dst.byteSize() / 4;
        if (masks != null && DepthwiseWindow.safe(l, p.sH(), p.sW(), s0, srcLen, d0, dstLen))
            DepthwiseWindow.plane(w, src, s0, dst, d0, wt, k0, turned, b0, p.sH(), p.sW(), masks);
        else if (p.vectorSafe(l, s0, srcLen, d0, dstLen)) correlate(w, p, src, s0, dst, d0, wt, k0, turned, b0);
        else p.scalar(src, s0, dst, d0, wt, k0, turned, b0);
    }

    /** p's correlation of one plane; the taps (turned: by 180 degrees) are W[k0 .. k0+9). */
    private static void correlate(Width w, Plane p, MemorySegment src, long s0, MemorySegment dst, long d0,
                                  MemorySegment wt, long k0, boolean turned, float b0) {
        // written out here, in the method C2 compiles: below it both segments are exactly native (see NativeSegments)
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
        int l = sp.length(), dw = p.dw(), sW = p.sW(), sH = p.sH(), dh = p.dh(), dW = p.dW();
        boolean pairs = p.sh() == 1 && dh == 1 && dw == 1;
        long rowBytes = 4L * sW;
        for (int j = 0; j < dW; j += l) {
            int c = j + p.offX();
            VectorMask<Float> m0 = inRow(iota, c, sW), m1 = inRow(iota, c + dw, sW), m2 = inRow(iota, c + 2 * dw, sW);
            VectorMask<Float> mo = inRow(iota, j, dW);
            long col = s0 + c, out = d0 + j;
            int i = 0;
            // unit strides and dilation: output rows i and i+1 share input rows r+1 and r+2, so a pair loads four
            // rows instead of six, each at constant displacements (0, 4, 8 bytes) from one address per row (with the
            // dilation as a variable each load needed an address computation of its own: 1.08x slower in all)
            for (long at = (col + (long) p.offY() * sW) * 4; pairs && i + 1 < p.dH(); i += 2, out += 2L * dW, at += 2 * rowBytes) {
                int r = i + p.offY();
                FloatVector aL = zero, aC = zero, aR = zero, bL = zero, bC = zero, bR = zero;
                if (r >= 0 && r < sH) {
                    aL = FloatVector.fromMemorySegment(sp, src, at, NATIVE).mul(k00);
                    aC = FloatVector.fromMemorySegment(sp, src, at + 4, NATIVE).mul(k01);
                    aR = FloatVector.fromMemorySegment(sp, src, at + 8, NATIVE).mul(k02);
                }
                if (r + 1 >= 0 && r + 1 < sH) {
                    long a1 = at + rowBytes;
                    FloatVector v0 = FloatVector.fromMemorySegment(sp, src, a1, NATIVE);
                    FloatVector v1 = FloatVector.fromMemorySegment(sp, src, a1 + 4, NATIVE);
                    FloatVector v2 = FloatVector.fromMemorySegment(sp, src, a1 + 8, NATIVE);
                    aL = v0.fma(k10, aL); aC = v1.fma(k11, aC); aR = v2.fma(k12, aR);
                    bL = v0.mul(k00); bC = v1.mul(k01); bR = v2.mul(k02);
                }
                if (r + 2 >= 0 && r + 2 < sH) {
                    long a2 = at + 2 * rowBytes;
                    FloatVector v0 = FloatVector.fromMemorySegment(sp, src, a2, NATIVE);
                    FloatVector v1 = FloatVector.fromMemorySegment(sp, src, a2 + 4, NATIVE);
                    FloatVector v2 = FloatVector.fromMemorySegment(sp, src, a2 + 8, NATIVE);
                    aL = v0.fma(k20, aL); aC = v1.fma(k21, aC); aR = v2.fma(k22, aR);
                    bL = v0.fma(k10, bL); bC = v1.fma(k11, bC); bR = v2.fma(k12, bR);
                }
                if (r + 3 >= 0 && r + 3 < sH) {
                    long a3 = at + 3 * rowBytes;
                    bL = FloatVector.fromMemorySegment(sp, src, a3, NATIVE).fma(k20, bL);
                    bC = FloatVector.fromMemorySegment(sp, src, a3 + 4, NATIVE).fma(k21, bC);
                    bR = FloatVector.fromMemorySegment(sp, src, a3 + 8, NATIVE).fma(k22, bR);
                }
                zero.blend(aC, m1).add(zero.blend(aL, m0)).add(zero.blend(aR, m2)).add(bv).intoMemorySegment(dst, out * 4, NATIVE, mo);
                zero.blend(bC, m1).add(zero.blend(bL, m0)).add(zero.blend(bR, m2)).add(bv).intoMemorySegment(dst, (out + dW) * 4, NATIVE, mo);
            }
            for (; i < p.dH(); i++, out += dW) {
                int r0 = i * p.sh() + p.offY(), r1 = r0 + dh, r2 = r1 + dh;
                FloatVector aL = zero, aC = zero, aR = zero;
                // three taps per input row, written out: a helper taking vectors is compiled on its own once it
                // is hot and then too big to inline, and the vectors crossing the call get boxed
                if (r0 >= 0 && r0 < sH) {
                    long at = (col + (long) r0 * sW) * 4;
                    aL = FloatVector.fromMemorySegment(sp, src, at, NATIVE).mul(k00);
                    aC = FloatVector.fromMemorySegment(sp, src, at + 4L * dw, NATIVE).mul(k01);
                    aR = FloatVector.fromMemorySegment(sp, src, at + 8L * dw, NATIVE).mul(k02);
                }
                if (r1 >= 0 && r1 < sH) {
                    long at = (col + (long) r1 * sW) * 4;
                    aL = FloatVector.fromMemorySegment(sp, src, at, NATIVE).fma(k10, aL);
                    aC = FloatVector.fromMemorySegment(sp, src, at + 4L * dw, NATIVE).fma(k11, aC);
                    aR = FloatVector.fromMemorySegment(sp, src, at + 8L * dw, NATIVE).fma(k12, aR);
                }
                if (r2 >= 0 && r2 < sH) {
                    long at = (col + (long) r2 * sW) * 4;
                    aL = FloatVector.fromMemorySegment(sp, src, at, NATIVE).fma(k20, aL);
                    aC = FloatVector.fromMemorySegment(sp, src, at + 4L * dw, NATIVE).fma(k21, aC);
                    aR = FloatVector.fromMemorySegment(sp, src, at + 8L * dw, NATIVE).fma(k22, aR);
                }
                zero.blend(aC, m1).add(zero.blend(aL, m0)).add(zero.blend(aR, m2)).add(bv).intoMemorySegment(dst, out * 4, NATIVE, mo);
            }
        }
    }

    /**
     * Lanes whose column c + lane lies in [0, n), from iota (0, 1, 2, ...): two compares. Not
     * {@code indexInRange}, which (with the negative starts of padding) measured far slower when computed in
     * the row loop; computed once per vector of columns the two were the same.
     */
    private static VectorMask<Float> inRow(FloatVector iota, int c, int n) {
        FloatVector col = iota.add((float) c);
        return col.compare(VectorOperators.GE, 0f).and(col.compare(VectorOperators.LT, (float) n));
    }

    /** The vector loops take native segments only; VectorDepthwise stages other operands ({@link NativeSegments#staged}). */
    private static IllegalStateException notNative(MemorySegment a, MemorySegment b) {
        return new IllegalStateException("depthwise 3x3: vector loops need native segments, got " + a.getClass().getSimpleName()
                + " and " + b.getClass().getSimpleName());
    }

    /** Tap t of the 3x3 kernel at k0, or of the kernel turned by 180 degrees. */
    private static float weight(MemorySegment wt, long k0, int t, boolean turned) {
        return wt.getAtIndex(F, k0 + (turned ? 8 - t : t));
    }

    /**
     * Channels per backward-weights task, at most: with all of an image's channels in one task, the task reads X
     * and dY as two unbroken streams over its images (16 channels per task, 50 KB runs between jumps of a whole
     * image, measured 1.2x slower at C256 28x28); the cap keeps its accumulators (9 vectors per channel, 147 KB
     * at 512 bits) within L2.
     */
    private static final int BLOCK = 256;
    /** Image groups of backward-weights (fixed by the batch, never by the thread count). */
    private static final int GROUPS = 4;
    /** Per-thread accumulators of backward-weights, grown on demand and kept. */
    private static final ThreadLocal<float[][]> ACC = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /**
     * dW[o][ry][sx] = sum over images, rows and columns of dY[b][o][oy][ox] * X[b][o / mult][iy][ix]. Tasks are
     * (image group, block of up to {@link #BLOCK} channels), images outer and channels inner so that memory is
     * read in order (a task per channel would jump a whole image between planes); each channel keeps nine
     * vector accumulators in scratch between its planes. At the end each task reduces its accumulators in lane
     * order, and the groups' sums are added in group order, so the result is the same for any thread count.
     */
    static void weights(Width w, ConvGeom g, MemorySegment x, MemorySegment dy, MemorySegment dwt) {
        int l = w.floats().length(), cy = g.cy(), groups = Math.min(g.n(), GROUPS), blocks = Math.ceilDiv(cy, BLOCK);
        float[] partial = new float[groups * cy * 9];
        DepthwiseWindow.Masks masks = DepthwiseWindow.fits(l, g.hx(), g.wx(), g.hy(), g.wy(), g.sh(), g.dh(), g.dw(), -g.ph(), -g.pw())
                ? DepthwiseWindow.Masks.of(l, g.hx(), g.wx()) : null;
        CpuThreads.parallelFor(groups * blocks, task -> {
            int grp = task / blocks, o0 = task % blocks * BLOCK, o1 = Math.min(cy, o0 + BLOCK);
            float[][] holder = ACC.get();
            if (holder[0].length < (o1 - o0) * 9 * l) holder[0] = new float[(o1 - o0) * 9 * l];
            float[] acc = holder[0], edge = new float[(o1 - o0) * 9];
            java.util.Arrays.fill(acc, 0, (o1 - o0) * 9 * l, 0f);
            for (int b = g.n() * grp / groups; b < g.n() * (grp + 1) / groups; b++)
                for (int o = o0; o < o1; o++) {
                    long xb = ((long) b * g.cx() + o / g.cyg()) * g.xPlane(), yb = ((long) b * cy + o) * g.yPlane();
                    if (masks != null && DepthwiseWindow.weightsSafe(l, g.hx(), g.wx(), xb, x.byteSize() / 4, yb, dy.byteSize() / 4))
                        DepthwiseWindow.weightsPlane(w, x, xb, dy, yb, acc, (o - o0) * 9 * l, g.hx(), g.wx(), masks);
                    else if (weightsSafe(g, l, xb, x.byteSize() / 4, yb, dy.byteSize() / 4))
                        weightsPlane(w, g, x, xb, dy, yb, acc, (o - o0) * 9 * l);
                    else weightsScalar(g, x, xb, dy, yb, edge, (o - o0) * 9);
                }
            for (int i = 0; i < (o1 - o0) * 9; i++)
                partial[grp * cy * 9 + o0 * 9 + i] = Lanes.sum(FloatVector.fromArray(w.floats(), acc, i * l)) + edge[i];
        });
        for (int i = 0; i < cy * 9; i++) {
            float sum = partial[i];
            for (int grp = 1; grp < groups; grp++) sum += partial[grp * cy * 9 + i];
            dwt.setAtIndex(F, i, sum);
        }
    }

    /**
     * Adds one plane pair into the nine accumulators at acc[at + t*l] (t = ry*3 + sx): dY lanes past the row
     * are zeroed, and so are X lanes outside the row or under them. The vectors stay inside this method.
     */
    private static void weightsPlane(Width w, ConvGeom g, MemorySegment x, long xb, MemorySegment dy, long yb, float[] acc, int at0) {
        if (x.getClass() != NativeSegments.CLASS || dy.getClass() != NativeSegments.CLASS) throw notNative(x, dy); // as in correlate
        VectorSpecies<Float> sp = w.floats();
        int l = sp.length(), wx = g.wx(), hx = g.hx(), wy = g.wy(), dw = g.dw(), dh = g.dh();
        FloatVector zero = FloatVector.zero(sp), iota = zero.addIndex(1);
        FloatVector a00 = FloatVector.fromArray(sp, acc, at0), a01 = FloatVector.fromArray(sp, acc, at0 + l),
                a02 = FloatVector.fromArray(sp, acc, at0 + 2 * l), a10 = FloatVector.fromArray(sp, acc, at0 + 3 * l),
                a11 = FloatVector.fromArray(sp, acc, at0 + 4 * l), a12 = FloatVector.fromArray(sp, acc, at0 + 5 * l),
                a20 = FloatVector.fromArray(sp, acc, at0 + 6 * l), a21 = FloatVector.fromArray(sp, acc, at0 + 7 * l),
                a22 = FloatVector.fromArray(sp, acc, at0 + 8 * l);
        for (int j = 0; j < wy; j += l) {
            int c = j - g.pw();
            VectorMask<Float> mo = inRow(iota, j, wy);
            VectorMask<Float> m0 = inRow(iota, c, wx).and(mo), m1 = inRow(iota, c + dw, wx).and(mo),
                    m2 = inRow(iota, c + 2 * dw, wx).and(mo);
            long col = xb + c, out = yb + j;
            int oy = 0;
            // unit vertical stride and dilation: rows oy and oy+1 share input rows, four rows' loads serve both.
            // Row oy+1's terms go to nine accumulators of their own (b..), added in after the column: with one set,
            // each accumulator took two dependent FMAs per pair of rows (measured 1.17x slower at C256 28x28).
            FloatVector b00 = zero, b01 = zero, b02 = zero, b10 = zero, b11 = zero, b12 = zero, b20 = zero, b21 = zero, b22 = zero;
            for (; g.sh() == 1 && dh == 1 && oy + 1 < g.hy(); oy += 2, out += 2L * wy) {
                FloatVector d0 = zero.blend(FloatVector.fromMemorySegment(sp, dy, out * 4, NATIVE), mo);
                FloatVector d1 = zero.blend(FloatVector.fromMemorySegment(sp, dy, (out + wy) * 4, NATIVE), mo);
                int r = oy - g.ph();
                if (r >= 0 && r < hx) {
                    long at = (col + (long) r * wx) * 4;
                    a00 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0).fma(d0, a00);
                    a01 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1).fma(d0, a01);
                    a02 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2).fma(d0, a02);
                }
                if (r + 1 >= 0 && r + 1 < hx) {
                    long at = (col + (long) (r + 1) * wx) * 4;
                    FloatVector x0 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0);
                    FloatVector x1 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1);
                    FloatVector x2 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2);
                    b00 = x0.fma(d1, b00); b01 = x1.fma(d1, b01); b02 = x2.fma(d1, b02);
                    a10 = x0.fma(d0, a10); a11 = x1.fma(d0, a11); a12 = x2.fma(d0, a12);
                }
                if (r + 2 >= 0 && r + 2 < hx) {
                    long at = (col + (long) (r + 2) * wx) * 4;
                    FloatVector x0 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0);
                    FloatVector x1 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1);
                    FloatVector x2 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2);
                    b10 = x0.fma(d1, b10); b11 = x1.fma(d1, b11); b12 = x2.fma(d1, b12);
                    a20 = x0.fma(d0, a20); a21 = x1.fma(d0, a21); a22 = x2.fma(d0, a22);
                }
                if (r + 3 >= 0 && r + 3 < hx) {
                    long at = (col + (long) (r + 3) * wx) * 4;
                    b20 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0).fma(d1, b20);
                    b21 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1).fma(d1, b21);
                    b22 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2).fma(d1, b22);
                }
            }
            a00 = a00.add(b00); a01 = a01.add(b01); a02 = a02.add(b02);
            a10 = a10.add(b10); a11 = a11.add(b11); a12 = a12.add(b12);
            a20 = a20.add(b20); a21 = a21.add(b21); a22 = a22.add(b22);
            for (; oy < g.hy(); oy++, out += wy) {
                FloatVector d = zero.blend(FloatVector.fromMemorySegment(sp, dy, out * 4, NATIVE), mo);
                int r0 = oy * g.sh() - g.ph(), r1 = r0 + dh, r2 = r1 + dh;
                if (r0 >= 0 && r0 < hx) {
                    long at = (col + (long) r0 * wx) * 4;
                    a00 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0).fma(d, a00);
                    a01 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1).fma(d, a01);
                    a02 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2).fma(d, a02);
                }
                if (r1 >= 0 && r1 < hx) {
                    long at = (col + (long) r1 * wx) * 4;
                    a10 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0).fma(d, a10);
                    a11 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1).fma(d, a11);
                    a12 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2).fma(d, a12);
                }
                if (r2 >= 0 && r2 < hx) {
                    long at = (col + (long) r2 * wx) * 4;
                    a20 = zero.blend(FloatVector.fromMemorySegment(sp, x, at, NATIVE), m0).fma(d, a20);
                    a21 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 4L * dw, NATIVE), m1).fma(d, a21);
                    a22 = zero.blend(FloatVector.fromMemorySegment(sp, x, at + 8L * dw, NATIVE), m2).fma(d, a22);
                }
            }
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

    /** As {@link Plane#vectorSafe}: whether every vector load of X and dY for this plane pair stays inside. */
    private static boolean weightsSafe(ConvGeom g, int l, long xb, long xLen, long yb, long yLen) {
        long lastJ = (long) (g.wy() - 1) / l * l;
        return xb - g.pw() >= 0 && xb + (long) (g.hx() - 1) * g.wx() + lastJ - g.pw() + 2L * g.dw() + l <= xLen
                && yb + (long) (g.hy() - 1) * g.wy() + lastJ + l <= yLen;
    }

    /** Adds one plane pair's nine tap sums, element by element, into sums[at..at+9). */
    private static void weightsScalar(ConvGeom g, MemorySegment x, long xb, MemorySegment dy, long yb, float[] sums, int at) {
        for (int ry = 0; ry < 3; ry++)
            for (int sx = 0; sx < 3; sx++) {
                float acc = 0;
                for (int oy = 0; oy < g.hy(); oy++) {
                    int iy = oy * g.sh() - g.ph() + ry * g.dh();
                    if (iy < 0 || iy >= g.hx()) continue;
                    for (int ox = 0; ox < g.wy(); ox++) {
                        int ix = ox - g.pw() + sx * g.dw();
                        if (ix >= 0 && ix < g.wx())
                            acc = Math.fma(dy.getAtIndex(F, yb + (long) oy * g.wy() + ox),
                                    x.getAtIndex(F, xb + (long) iy * g.wx() + ix), acc);
                    }
                }
                sums[at + ry * 3 + sx] += acc;
            }
    }
}
