package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.PoolDesc;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Pooling forward without column padding, written for planes whose output rows are narrower than one vector (the
 * 14- and 7-wide rows of a small CNN's 2x2 pools, where VectorPool's row interior never applied and every output
 * went through the scalar {@link VectorPool#forwardOne}: 10-20x slower). One vector holds one output row, or two
 * consecutive rows when two fit (2q &lt;= lanes: the 7-wide rows of a 14x14 plane fill 14 of 16 lanes at 512
 * bits); rows wider than a vector take several, the last overlapping the one before. The tap (ry, sx) of every
 * lane comes out of two vector loads by one two-vector permute ({@code selectFrom}, index tables built once per
 * plane shape): for one row, two consecutive loads of input row y0+ry (lane ox takes element ox*strideW + sx);
 * for two rows, one load from each of the two input rows (the second row's lanes take theirs from the second
 * vector). So a vector's windows must lie within two input vectors (strideW*(lanes-1) + kw &lt;= 2 lanes: strides
 * 1 and 2 with windows up to the stride, and any window on rows short enough). The taps are compared in
 * row-major window order with "strictly greater" (NaN never wins), keeping the winner's offset per lane, exactly
 * as the reference and VectorPool; averages are summed in the same order and divided by kh*kw, VectorPool's
 * bits. Padded top and bottom rows, and the tensor's last rows (where the loads would run past its end), go to
 * {@link VectorPool#forwardOne}. Loads may read past the row into the next row or plane (values no kept lane
 * uses); a vector is stored whole where its spill lands on outputs this plane writes later, else its own lanes
 * through scratch, so nothing outside the plane is touched and the result does not depend on the thread count.
 * Average backward for tiling two-column windows on dX rows narrower than a vector is here too
 * ({@link #avgBackwardTiled2}); max backward stays VectorPool's scatter, already at the speed of writing dX.
 */
final class PoolNarrow {
    private PoolNarrow() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final VectorSpecies<Integer> I128 = IntVector.SPECIES_128, I256 = IntVector.SPECIES_256, I512 = IntVector.SPECIES_512;

    /** The int species as wide as {@code w}: small enough for C2 to inline, so it folds to a constant (see Width). */
    private static VectorSpecies<Integer> ints(Width w) {
        int b = w.bits();
        return b == 512 ? I512 : b == 256 ? I256 : I128;
    }

    /**
     * Output rows per vector for rows of q outputs whose windows span {@code sw*(q-1)+kw} input columns: 2 when two
     * rows and each row's span fit one vector, 1 when the span fits two vectors, 0 when neither (not this path).
     */
    static int rowsPerVector(int lanes, int q, int sw, int kw) {
        long span = (long) sw * (q - 1) + kw;
        if (2L * q <= lanes && span <= lanes) return 2;
        return span <= 2L * lanes ? 1 : 0;
    }

    /**
     * Whether this path takes {@code d}'s forward pass at width {@code w}: no column padding, a vector's windows within
     * two input vectors, and for average pooling rows narrower than a vector (on wider rows VectorPool's own average
     * measured as fast: 0.9-1.2x; max is 1.7-2.8x faster here on 56- and 112-wide planes, and 2.2x at 256 and 128 bits
     * on 28-wide ones).
     */
    static boolean applies(Width w, PoolDesc d) {
        int l = w.floats().length();
        return d.padW() == 0 && rowsPerVector(l, Math.min(d.q(), l), d.strideW(), d.kw()) > 0
                && (d.pool() == PoolDesc.PoolKind.MAX || d.q() < l);
    }

    /** Per-thread tables of one plane shape: permute indices per tap column, lane offsets, tap offsets. */
    private static final class Tables {
        float[] select = new float[0], spill = new float[0];
        int[] spillAt = new int[0];
        int[] laneAt = new int[0], tapAt = new int[0];

        /** The shape the tables hold (q, strideW, kw, kh, w, strideH, lanes, rows), so a run of planes builds them once. */
        private final int[] key = new int[8];

        Tables fit(PoolDesc d, int l, int rows) {
            int q = d.q(), sw = d.strideW(), kw = d.kw(), kh = d.kh(), w = d.w(), sh = d.strideH();
            int[] now = {q, sw, kw, kh, w, sh, l, rows};
            if (Arrays.equals(key, now)) return this;
            if (select.length < kw * l) select = new float[kw * l];
            if (laneAt.length < l) {
                laneAt = new int[l];
                spill = new float[l];
                spillAt = new int[l];
            }
            if (tapAt.length < kh * kw) tapAt = new int[kh * kw];
            for (int j = 0; j < l; j++) {
                int r = j / q, ox = j % q; // lanes past rows*q: any in-range column, never stored
                if (r >= rows) {
                    r = 0;
                    ox = 0;
                }
                laneAt[j] = r * sh * w + ox * sw;
                for (int sx = 0; sx < kw; sx++) select[sx * l + j] = r * l + ox * sw + sx;
            }
            for (int t = 0; t < kh * kw; t++) tapAt[t] = (t / kw) * w + t % kw;
            System.arraycopy(now, 0, key, 0, key.length);
            return this;
        }
    }

    private static final ThreadLocal<Tables> TABLES = ThreadLocal.withInitial(Tables::new);

    /** Planes [from, to) of the forward pass (idx null: max without indices). */
    static void forward(Width wd, PoolDesc d, MemorySegment src, MemorySegment dst, MemorySegment idx, int from, int to, boolean max) {
        int l = wd.floats().length();
        Tables t = TABLES.get().fit(d, l, rowsPerVector(l, Math.min(d.q(), l), d.strideW(), d.kw()));
        for (int pl = from; pl < to; pl++) plane(wd, d, t, src, dst, idx, pl, max);
    }

    private static void plane(Width wd, PoolDesc d, Tables t, MemorySegment src, MemorySegment dst, MemorySegment idx, int pl,
                              boolean max) {
        var sp = wd.floats();
        int l = sp.length();
        int p = d.p(), q = d.q(), h = d.h(), w = d.w(), sh = d.strideH(), kh = d.kh(), kw = d.kw(), padH = d.padH();
        int sw = d.strideW(), rows = rowsPerVector(l, Math.min(q, l), sw, kw);
        int last = Math.max(0, q - l); // the last vector's first column: rows wider than a vector overlap their last two
        int oyLo = Math.min(p, Math.ceilDiv(padH, sh)), oyHi = Math.max(oyLo, Math.min(p, Math.floorDiv(h - kh + padH, sh) + 1));
        long in0 = (long) pl * h * w, out0 = (long) pl * p * q, outEnd = out0 + (long) p * q, srcFloats = src.byteSize() / 4;
        // the second vector: the rest of the same input row, or the next output row's input row
        long second = rows == 1 ? l : (long) sh * w;
        float div = (float) kh * kw;
        for (int oy = 0; oy < oyLo; oy++) scalarRow(d, max, src, dst, idx, in0, out0, oy);
        int oy = oyLo;
        for (; oy < oyHi; oy += rows) {
            int n = Math.min(rows, oyHi - oy); // output rows in this vector
            long row = in0 + (long) (oy * sh - padH) * w, out = out0 + (long) oy * q;
            long lastRow = row + (long) (kh - 1) * w + (long) sw * last;
            long readEnd = n == 2 ? lastRow + second + l : lastRow + (rows == 1 ? 2L * l : l);
            if (readEnd > srcFloats) break; // the tensor's last rows: the loads would run past its end
            long bStep = n == 2 || rows == 1 ? second : 0; // one row of a pair alone: the "second row" is the first again
            int y0w = (oy * sh - padH) * w;
            for (int ox = 0; ; ox += l) {
                int o = Math.min(ox, last);
                long at = row + (long) sw * o, to = out + o;
                int keep = to + l <= outEnd ? -1 : n * q; // the plane's last vector: only its own lanes, through scratch
                if (max && kh == 2 && kw == 2) maxRows2x2(wd, t, src, dst, idx, at, bStep, to, y0w + sw * o, w, keep);
                else if (max) maxRows(wd, t, src, dst, idx, at, bStep, to, y0w + sw * o, kh, kw, w, keep);
                else avgRows(wd, t, src, dst, at, bStep, to, kh, kw, w, div, keep);
                if (o == last) break;
            }
        }
        for (; oy < p; oy++) scalarRow(d, max, src, dst, idx, in0, out0, oy);
    }

    private static void scalarRow(PoolDesc d, boolean max, MemorySegment src, MemorySegment dst, MemorySegment idx, long in0, long out0,
                                  int oy) {
        long out = out0 + (long) oy * d.q();
        for (int ox = 0; ox < d.q(); ox++) VectorPool.forwardOne(d, max, src, dst, idx, in0, out + ox, oy, ox);
    }

    /**
     * One vector of max outputs at {@code out}: taps in row-major window order, "strictly greater" wins (NaN never
     * does), the winner's offset (ry*w + sx) kept per lane and added to the lane's window origin ({@code y0w} plus
     * its lane offset). keep &lt; 0: a whole-vector store. The loads are repeated per window row rather than carried
     * in variables assigned under a condition: C2 boxed such vectors (an allocation per vector; the kernel measured 2.6x
     * slower).
     */
    private static void maxRows(Width wd, Tables t, MemorySegment src, MemorySegment dst, MemorySegment idx, long row, long bStep,
                                long out, int y0w, int kh, int kw, int w, int keep) {
        var sp = wd.floats();
        var is = ints(wd);
        int l = sp.length();
        float[] select = t.select;
        int[] tapAt = t.tapAt;
        FloatVector best = FloatVector.fromArray(sp, select, 0).selectFrom(FloatVector.fromMemorySegment(sp, src, row * 4, NATIVE),
                FloatVector.fromMemorySegment(sp, src, (row + bStep) * 4, NATIVE));
        IntVector at = IntVector.zero(is);
        for (int ry = 0, tap = 1; ry < kh; ry++) {
            long a0 = (row + (long) ry * w) * 4;
            FloatVector a = FloatVector.fromMemorySegment(sp, src, a0, NATIVE);
            FloatVector b = FloatVector.fromMemorySegment(sp, src, a0 + bStep * 4, NATIVE);
            for (int sx = ry == 0 ? 1 : 0; sx < kw; sx++, tap++) {
                FloatVector v = FloatVector.fromArray(sp, select, sx * l).selectFrom(a, b);
                VectorMask<Float> gt = v.compare(VectorOperators.GT, best);
                best = best.blend(v, gt);
                if (idx != null) at = at.blend(tapAt[tap], gt.cast(is));
            }
        }
        store(best, dst, out, keep, t);
        if (idx != null) storeIndices(wd, t, at, idx, out, y0w, keep);
    }

    /** {@link #maxRows} for 2x2 windows, the taps in straight-line code. */
    private static void maxRows2x2(Width wd, Tables t, MemorySegment src, MemorySegment dst, MemorySegment idx, long row, long bStep,
                                   long out, int y0w, int w, int keep) {
        var sp = wd.floats();
        var is = ints(wd);
        int l = sp.length();
        float[] select = t.select;
        FloatVector even = FloatVector.fromArray(sp, select, 0), odd = FloatVector.fromArray(sp, select, l);
        long r0 = row * 4, r1 = (row + w) * 4, b = bStep * 4;
        FloatVector a0 = FloatVector.fromMemorySegment(sp, src, r0, NATIVE), b0 = FloatVector.fromMemorySegment(sp, src, r0 + b, NATIVE);
        FloatVector a1 = FloatVector.fromMemorySegment(sp, src, r1, NATIVE), b1 = FloatVector.fromMemorySegment(sp, src, r1 + b, NATIVE);
        FloatVector best = even.selectFrom(a0, b0), v1 = odd.selectFrom(a0, b0), v2 = even.selectFrom(a1, b1), v3 = odd.selectFrom(a1, b1);
        VectorMask<Float> g1 = v1.compare(VectorOperators.GT, best);
        best = best.blend(v1, g1);
        VectorMask<Float> g2 = v2.compare(VectorOperators.GT, best);
        best = best.blend(v2, g2);
        VectorMask<Float> g3 = v3.compare(VectorOperators.GT, best);
        best = best.blend(v3, g3);
        store(best, dst, out, keep, t);
        if (idx == null) return;
        IntVector at = IntVector.zero(is).blend(1, g1.cast(is)).blend(w, g2.cast(is)).blend(w + 1, g3.cast(is));
        storeIndices(wd, t, at, idx, out, y0w, keep);
    }

    /** Winner offsets plus each lane's window origin, into INDICES at {@code out} (keep as for {@link #store}). */
    private static void storeIndices(Width wd, Tables t, IntVector at, MemorySegment idx, long out, int y0w, int keep) {
        IntVector where = at.add(IntVector.fromArray(ints(wd), t.laneAt, 0)).add(y0w);
        if (keep < 0) where.intoMemorySegment(idx, out * 4, NATIVE);
        else {
            where.intoArray(t.spillAt, 0);
            MemorySegment.copy(t.spillAt, 0, idx, ValueLayout.JAVA_INT_UNALIGNED, out * 4, keep);
        }
    }

    /** One vector of averages at {@code out}: taps summed in row-major window order, then divided by kh*kw. */
    private static void avgRows(Width wd, Tables t, MemorySegment src, MemorySegment dst, long row, long bStep, long out, int kh, int kw,
                                int w, float div, int keep) {
        var sp = wd.floats();
        int l = sp.length();
        float[] select = t.select;
        FloatVector sum = FloatVector.fromArray(sp, select, 0).selectFrom(FloatVector.fromMemorySegment(sp, src, row * 4, NATIVE),
                FloatVector.fromMemorySegment(sp, src, (row + bStep) * 4, NATIVE));
        for (int ry = 0; ry < kh; ry++) {
            long a0 = (row + (long) ry * w) * 4;
            FloatVector a = FloatVector.fromMemorySegment(sp, src, a0, NATIVE);
            FloatVector b = FloatVector.fromMemorySegment(sp, src, a0 + bStep * 4, NATIVE);
            for (int sx = ry == 0 ? 1 : 0; sx < kw; sx++) sum = sum.add(FloatVector.fromArray(sp, select, sx * l).selectFrom(a, b));
        }
        store(sum.div(div), dst, out, keep, t);
    }

    /**
     * The vector at {@code out}: whole (keep &lt; 0), or its first {@code keep} lanes through scratch (C2 left a masked
     * store whose mask was built by the caller to the Java fallback, by PrintInlining; this is one vector per plane).
     */
    private static void store(FloatVector v, MemorySegment dst, long out, int keep, Tables t) {
        if (keep < 0) v.intoMemorySegment(dst, out * 4, NATIVE);
        else {
            v.intoArray(t.spill, 0);
            MemorySegment.copy(t.spill, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, out * 4, keep);
        }
    }

    /** Lane i takes lane i/2: each window's share repeated over its two columns. */
    private static final float[] HALVES = new float[32];
    static {
        for (int i = 0; i < HALVES.length; i++) HALVES[i] = i / 2;
    }

    /**
     * Whether {@link #avgBackwardTiled2} takes {@code d} at width {@code w}: windows tiling the plane (stride = window,
     * no padding) two columns wide, dX rows of the windows (2q) shorter than a vector.
     */
    static boolean appliesAvgBackward(Width w, PoolDesc d) {
        return d.kw() == 2 && d.strideW() == 2 && d.strideH() == d.kh() && d.padH() == 0 && d.padW() == 0
                && 2 * d.q() < w.floats().length();
    }

    /** Per-thread scratch of the average backward: the plane's shares, and a vector's spill. */
    private static final class Shares {
        float[] g = new float[0], spill = new float[0];

        Shares fit(int n, int l) {
            if (g.length < n + l) g = new float[n + l];
            if (spill.length < l) spill = new float[l];
            return this;
        }
    }

    private static final ThreadLocal<Shares> SHARES = ThreadLocal.withInitial(Shares::new);

    /**
     * Average backward, one plane, windows tiling it two columns wide, dX rows narrower than a vector: every dX element
     * gets its one window's dy / (kh*2) (zero past a ragged edge). The plane's shares are divided a vector at a time
     * (in float: for float operands the double quotient rounded to float is the float quotient, so the same bits as
     * VectorPool's scalar loop), then each dX row is one vector, lane i holding share i/2 by one permute, stored whole
     * where its spill lands on later dX rows of the plane (written afterwards), else through scratch.
     */
    static void avgBackwardTiled2(Width wd, PoolDesc d, MemorySegment dy, MemorySegment dx, int pl) {
        var sp = wd.floats();
        int l = sp.length();
        int p = d.p(), q = d.q(), h = d.h(), w = d.w(), kh = d.kh(), n = p * q;
        long in0 = (long) pl * h * w, out0 = (long) pl * n;
        long planeEnd = in0 + (long) h * w;
        boolean ragged = p * kh < h || 2 * q < w;
        if (ragged) dx.asSlice(in0 * 4, (long) h * w * 4).fill((byte) 0);
        Shares s = SHARES.get().fit(n, l);
        float[] g = s.g;
        MemorySegment.copy(dy, ValueLayout.JAVA_FLOAT_UNALIGNED, out0 * 4, g, 0, n);
        float div = 2f * kh;
        int i = 0;
        for (; i + l <= n; i += l) FloatVector.fromArray(sp, g, i).div(div).intoArray(g, i);
        for (; i < n; i++) g[i] /= div;
        FloatVector halves = FloatVector.fromArray(sp, HALVES, 0);
        for (int oy = 0; oy < p; oy++) {
            FloatVector e = halves.selectFrom(FloatVector.fromArray(sp, g, oy * q));
            for (int r = 0; r < kh; r++) {
                long row = in0 + (long) (oy * kh + r) * w;
                if (!ragged && row + l <= planeEnd) e.intoMemorySegment(dx, row * 4, NATIVE);
                else {
                    e.intoArray(s.spill, 0);
                    MemorySegment.copy(s.spill, 0, dx, ValueLayout.JAVA_FLOAT_UNALIGNED, row * 4, 2 * q);
                }
            }
        }
    }
}
