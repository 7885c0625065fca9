package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Max and average pooling, forward and backward (see {@link PoolDesc}; NCHW, one plane per image and
 * channel). Windows are clipped to the input once per output row and column, so padding never takes part
 * and the max is the first in-bounds element in row-major window order strictly greater than those before
 * it, exactly as the reference (INDICES = y*w+x within the plane). Tasks are fixed runs of whole planes and
 * backward passes own their input planes (zeroed, then added to in output order; written once where the
 * windows tile the plane), so results do not depend on the thread count. Forward without column padding
 * goes to {@link PoolNarrow} where a vector's windows lie within two input vectors (one or two output rows
 * per vector: rows narrower than a vector, and max on rows of any width); otherwise it computes a vector of
 * outputs at a time wherever the windows lie inside the plane (see {@link #forward}), the padded borders
 * one by one. INDICES are left out where the descriptor has none (max forward for inference). Average
 * backward for tiling two-column windows on dX rows narrower than a vector is PoolNarrow's too; with other
 * tiling windows it writes dX directly, and where windows overlap, are padded
 * or leave gaps it gathers each dX row a vector at a time from the windows that cover it (see
 * {@link #gatherBackward}; rows narrower than a vector use the scalar scatter). Max backward stays a scalar
 * scatter of one gradient per window after zeroing the plane: it runs at the speed of writing dX (measured
 * 2.3-2.6 ms CPU for 8x64x112x112, 2x2 and 3x3/2 windows, about 11 GB/s), and every vector form tried was
 * slower on one thread (a gather over the covering windows comparing each lane's position with the window's
 * index, 0.2-0.4x; for tiling windows, indices repeated along the row and one compare and select per dX
 * vector, 0.6-0.9x).
 */
public final class VectorPool {
    private VectorPool() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Input floats per task (about 64 KiB), whole planes. */
    private static final int TASK_FLOATS = 16 * 1024;

    /** Every descriptor the reference takes. */
    public static Support supports(PoolDesc d) { return Support.YES; }

    public static void run(Width w, PoolDesc d, Args a) { run(w, d, a, true); }

    /** As {@link #run(Width, PoolDesc, Args)}; {@code narrow} false: this class's own paths only, never {@link PoolNarrow} (A/B runs). */
    static void run(Width w, PoolDesc d, Args a, boolean narrow) {
        int planes = d.n() * d.c(), per = Math.max(1, TASK_FLOATS / (d.h() * d.w()));
        boolean fwd = d.pass() == Pass.FORWARD, max = d.pool() == PoolKind.MAX;
        MemorySegment src = fwd ? a.host(Arg.SRC) : null, dst = fwd ? a.host(Arg.DST) : null;
        MemorySegment idx = d.indices() ? a.host(Arg.INDICES) : null; // null: max forward without indices
        MemorySegment dy = fwd ? null : a.host(Arg.DIFF_DST), dx = fwd ? null : a.host(Arg.DIFF_SRC);
        boolean gather = !fwd && !max && d.w() >= w.floats().length(), narrowFwd = fwd && narrow && PoolNarrow.applies(w, d);
        boolean narrowAvgBwd = !fwd && !max && narrow && PoolNarrow.appliesAvgBackward(w, d);
        CpuThreads.parallelFor(Math.ceilDiv(planes, per), task -> {
            if (narrowFwd) { // the task's planes in one call: its per-plane set-up is a fair part of a 14x14 plane's time
                PoolNarrow.forward(w, d, src, dst, idx, task * per, Math.min(planes, (task + 1) * per), max);
                return;
            }
            for (int pl = task * per; pl < Math.min(planes, (task + 1) * per); pl++) {
                if (fwd) forward(w, d, src, dst, idx, pl, max);
                else if (max) maxBackward(d, dy, idx, dx, pl);
                else if (narrowAvgBwd) PoolNarrow.avgBackwardTiled2(w, d, dy, dx, pl);
                else if (tiles(d)) avgBackwardTiled(w, d, dy, dx, pl);
                else if (gather) gatherBackward(w, d, dy, dx, pl);
                else avgBackward(d, dy, dx, pl);
            }
        });
    }

    /** Per-thread scratch: the kh input rows of one output row, split by column phase, and the winners' taps. */
    private static final class Scratch {
        float[][] rows = new float[0][];
        float[] pick = new float[0];
        /** Per tap t (row-major): its window row, and its offset in that row's split scratch. */
        int[] tapRow = new int[0], tapAt = new int[0];

        Scratch fit(int kh, int kw, int sw, int stride, int q) {
            if (rows.length < kh || rows[0].length < sw * stride) rows = new float[kh][sw * stride];
            if (pick.length < q) pick = new float[q];
            if (tapRow.length < kh * kw) {
                tapRow = new int[kh * kw];
                tapAt = new int[kh * kw];
            }
            for (int t = 0; t < kh * kw; t++) { // divisions once per plane, not per vector
                int sx = t % kw;
                tapRow[t] = t / kw;
                tapAt[t] = (sx % sw) * stride + sx / sw;
            }
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * One plane. Output columns whose windows lie wholly inside the plane (all but the padded borders) are
     * done a vector of outputs at a time: the window's kh input rows are copied once per output row into
     * scratch split by column phase (column k*strideW + phase - padW at phase*stride + k), so tap (ry, sx) of
     * lane ox is {@code rows[ry][(sx % strideW)*stride + ox + sx/strideW]}, a contiguous load for any stride. Max
     * compares the taps in row-major order with "strictly greater" (NaN never wins, as in the reference) and
     * keeps the winning tap per lane; borders and planes narrower than a vector use {@link #forwardOne}.
     */
    private static void forward(Width wd, PoolDesc d, MemorySegment src, MemorySegment dst, MemorySegment idx, int pl, boolean max) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w(), sh = d.strideH(), sw = d.strideW(), kh = d.kh(), kw = d.kw();
        int oxLo = Math.min(q, Math.ceilDiv(d.padW(), sw)), oxHi = Math.max(oxLo, Math.min(q, Math.floorDiv(w - kw + d.padW(), sw) + 1));
        int oyLo = Math.min(p, Math.ceilDiv(d.padH(), sh)), oyHi = Math.max(oyLo, Math.min(p, Math.floorDiv(h - kh + d.padH(), sh) + 1));
        boolean vector = oxHi - oxLo >= wd.floats().length();
        // phase k runs [0, span) at k*stride; the vector split writes up to a vector past span
        int span = oxHi + (kw - 1) / sw, stride = span + wd.floats().length();
        Scratch s = vector ? SCRATCH.get().fit(kh, kw, sw, stride, q) : null;
        long in0 = (long) pl * h * w, out0 = (long) pl * p * q;
        for (int oy = 0; oy < p; oy++) {
            long out = out0 + (long) oy * q;
            if (!vector || oy < oyLo || oy >= oyHi) {
                for (int ox = 0; ox < q; ox++) forwardOne(d, max, src, dst, idx, in0, out + ox, oy, ox);
                continue;
            }
            for (int ox = 0; ox < oxLo; ox++) forwardOne(d, max, src, dst, idx, in0, out + ox, oy, ox);
            int y0 = oy * sh - d.padH();
            for (int ry = 0; ry < kh; ry++) splitRow(wd, src, in0 + (long) (y0 + ry) * w, w, sw, d.padW(), oxLo, span, stride, s.rows[ry]);
            if (max) {
                maxInterior(wd, kh * kw, s, oxLo, oxHi, dst, out);
                for (int ox = oxLo, x0 = oxLo * sw - d.padW(); idx != null && ox < oxHi; ox++, x0 += sw) {
                    int t = (int) s.pick[ox], ry = s.tapRow[t];
                    idx.setAtIndex(I, out + ox, (y0 + ry) * w + x0 + t - ry * kw);
                }
            } else {
                avgInterior(wd, kh * kw, s, oxLo, oxHi, (float) kh * kw, dst, out);
            }
            for (int ox = oxHi; ox < q; ox++) forwardOne(d, max, src, dst, idx, in0, out + ox, oy, ox);
        }
    }

    /**
     * buf[phase*stride + k] = row[k*sw + phase - pad] for k in [from, span), where that column exists (for
     * sw = 2, also some columns past the row's end, which nothing reads). Stride 2, the common pooling
     * stride, splits two vectors at a time into even and odd lanes with two-vector permutes, where those
     * loads stay inside the tensor (all rows but the tensor's last). The choice is made here, not inside the
     * vector loop: a rarely taken branch there made C2 deoptimise and recompile that loop again and again
     * (measured 5x slower in about half the runs).
     */
    private static void splitRow(Width wd, MemorySegment src, long row, int w, int sw, int pad, int from, int span, int stride,
                                 float[] buf) {
        if (sw == 1) MemorySegment.copy(src, F, (row + from - pad) * 4, buf, from, span - from);
        else if (sw == 2 && (row + 2L * (span + wd.floats().length()) - pad) * 4 <= src.byteSize())
            splitTwo(wd, src, row - pad, from, span, stride, buf);
        else
            for (int k = from; k < span; k++)
                for (int ph = 0; ph < sw; ph++) {
                    int col = k * sw + ph - pad;
                    if (col >= 0 && col < w) buf[ph * stride + k] = src.getAtIndex(F, row + col);
                }
    }

    /** buf[k] = src[at + 2k], buf[stride + k] = src[at + 2k + 1] for k in [from, span) (a vector further at most). */
    private static void splitTwo(Width wd, MemorySegment src, long at, int from, int span, int stride, float[] buf) {
        var sp = wd.floats();
        int l = sp.length();
        FloatVector even = FloatVector.zero(sp).addIndex(2), odd = even.add(1f);
        for (int k = from; k < span; k += l) {
            long byteAt = (at + 2L * k) * 4;
            FloatVector a = FloatVector.fromMemorySegment(sp, src, byteAt, NATIVE);
            FloatVector b = FloatVector.fromMemorySegment(sp, src, byteAt + 4L * l, NATIVE);
            even.selectFrom(a, b).intoArray(buf, k);
            odd.selectFrom(a, b).intoArray(buf, stride + k);
        }
    }

    /** Max over the windows of output columns [lo, hi) (hi - lo >= one vector), winning taps into pick. */
    private static void maxInterior(Width wd, int taps, Scratch s, int lo, int hi, MemorySegment dst, long out) {
        var sp = wd.floats();
        int l = sp.length();
        float[][] rows = s.rows;
        int[] tapRow = s.tapRow, tapAt = s.tapAt;
        for (int ox = lo; ox < hi; ox += l) {
            int o = Math.min(ox, hi - l); // the last vector overlaps the one before instead of running past the interior
            FloatVector best = FloatVector.fromArray(sp, rows[0], o), tap = FloatVector.zero(sp);
            for (int t = 1; t < taps; t++) {
                FloatVector v = FloatVector.fromArray(sp, rows[tapRow[t]], tapAt[t] + o);
                VectorMask<Float> gt = v.compare(VectorOperators.GT, best);
                best = best.blend(v, gt);
                tap = tap.blend(t, gt);
            }
            best.intoMemorySegment(dst, (out + o) * 4, NATIVE);
            tap.intoArray(s.pick, o);
        }
    }

    /** Window sums (row-major) over div for output columns [lo, hi) (hi - lo >= one vector). */
    private static void avgInterior(Width wd, int taps, Scratch s, int lo, int hi, float div, MemorySegment dst, long out) {
        var sp = wd.floats();
        int l = sp.length();
        float[][] rows = s.rows;
        int[] tapRow = s.tapRow, tapAt = s.tapAt;
        for (int ox = lo; ox < hi; ox += l) {
            int o = Math.min(ox, hi - l);
            FloatVector sum = FloatVector.fromArray(sp, rows[0], o);
            for (int t = 1; t < taps; t++) {
                sum = sum.add(FloatVector.fromArray(sp, rows[tapRow[t]], tapAt[t] + o));
            }
            sum.div(div).intoMemorySegment(dst, (out + o) * 4, NATIVE);
        }
    }

    /** One output element, its window clipped to the plane. */
    static void forwardOne(PoolDesc d, boolean max, MemorySegment src, MemorySegment dst, MemorySegment idx, long in0, long out,
                                   int oy, int ox) {
        int h = d.h(), w = d.w();
        int y0 = oy * d.strideH() - d.padH(), ya = Math.max(0, y0), yb = Math.min(h, y0 + d.kh());
        int x0 = ox * d.strideW() - d.padW(), xa = Math.max(0, x0), xb = Math.min(w, x0 + d.kw());
        if (max) {
            int best = ya * w + xa;
            float bestV = src.getAtIndex(F, in0 + best);
            for (int y = ya; y < yb; y++) {
                long row = in0 + (long) y * w;
                for (int x = y == ya ? xa + 1 : xa; x < xb; x++) {
                    float v = src.getAtIndex(F, row + x);
                    boolean gt = v > bestV; // select, not branch: random data mispredicts half the time
                    best = gt ? y * w + x : best;
                    bestV = gt ? v : bestV;
                }
            }
            dst.setAtIndex(F, out, bestV);
            if (idx != null) idx.setAtIndex(I, out, best);
        } else {
            float sum = 0;
            for (int y = ya; y < yb; y++)
                for (int x = xa; x < xb; x++) sum += src.getAtIndex(F, in0 + (long) y * w + x);
            float div = d.countPadding() ? (float) d.kh() * d.kw() : (float) (yb - ya) * (xb - xa);
            dst.setAtIndex(F, out, sum / div);
        }
    }

    private static void maxBackward(PoolDesc d, MemorySegment dy, MemorySegment idx, MemorySegment dx, int pl) {
        long inPlane = (long) d.h() * d.w(), in0 = pl * inPlane, outPlane = (long) d.p() * d.q(), out0 = pl * outPlane;
        dx.asSlice(in0 * 4, inPlane * 4).fill((byte) 0);
        for (long o = out0; o < out0 + outPlane; o++) {
            long at = in0 + idx.getAtIndex(I, o);
            dx.setAtIndex(F, at, dx.getAtIndex(F, at) + dy.getAtIndex(F, o));
        }
    }

    /** Windows that tile the plane without overlap or padding (the usual 2x2 stride 2). */
    private static boolean tiles(PoolDesc d) {
        return d.strideH() == d.kh() && d.strideW() == d.kw() && d.padH() == 0 && d.padW() == 0;
    }

    /**
     * Average backward for tiling windows: every dX element gets exactly one window's dy / (kh*kw) (or none,
     * past the last window), so each is written once instead of zeroed and added to. Width-2 windows repeat
     * each gradient twice along a vector with one permute.
     */
    private static void avgBackwardTiled(Width wd, PoolDesc d, MemorySegment dy, MemorySegment dx, int pl) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w(), kh = d.kh(), kw = d.kw();
        long in0 = (long) pl * h * w, out = (long) pl * p * q;
        var sp = wd.floats();
        int l = sp.length();
        if (p * kh < h || q * kw < w) dx.asSlice(in0 * 4, (long) h * w * 4).fill((byte) 0); // ragged edge: no window there
        Scratch s = SCRATCH.get().fit(1, 1, 1, q + l, 0);
        float[] g = s.rows[0];
        double div = (double) kh * kw;
        VectorShuffle<Float> twice = kw == 2 && 2 * q >= l ? VectorShuffle.fromOp(sp, i -> i / 2) : null;
        for (int oy = 0; oy < p; oy++, out += q) {
            for (int ox = 0; ox < q; ox++) g[ox] = (float) (dy.getAtIndex(F, out + ox) / div);
            for (int r = 0; r < kh; r++) {
                long row = in0 + (long) (oy * kh + r) * w;
                if (twice != null) {
                    for (int x = 0; x < 2 * q; x += l) {
                        int o = Math.min(x, 2 * q - l); // the last vector overlaps the one before (same values)
                        FloatVector.fromArray(sp, g, o / 2).rearrange(twice).intoMemorySegment(dx, (row + o) * 4, NATIVE);
                    }
                } else {
                    for (int ox = 0; ox < q; ox++)
                        for (int sx = 0; sx < kw; sx++) dx.setAtIndex(F, row + ox * kw + sx, g[ox]);
                }
            }
        }
    }

    private static void avgBackward(PoolDesc d, MemorySegment dy, MemorySegment dx, int pl) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w();
        long in0 = (long) pl * h * w, out = (long) pl * p * q;
        dx.asSlice(in0 * 4, (long) h * w * 4).fill((byte) 0);
        for (int oy = 0; oy < p; oy++) {
            int y0 = oy * d.strideH() - d.padH(), ya = Math.max(0, y0), yb = Math.min(h, y0 + d.kh());
            for (int ox = 0; ox < q; ox++, out++) {
                int x0 = ox * d.strideW() - d.padW(), xa = Math.max(0, x0), xb = Math.min(w, x0 + d.kw());
                double div = d.countPadding() ? (double) d.kh() * d.kw() : (double) (yb - ya) * (xb - xa);
                float g = (float) (dy.getAtIndex(F, out) / div);
                for (int y = ya; y < yb; y++) {
                    long row = in0 + (long) y * w;
                    for (int x = xa; x < xb; x++) dx.setAtIndex(F, row + x, dx.getAtIndex(F, row + x) + g);
                }
            }
        }
    }

    /** Per-thread scratch of the gathering backward pass: a ring of expanded window rows, one dY row and its divisors, one dX row. */
    private static final class Gather {
        float[] g = new float[0], dyRow = new float[0], divRow = new float[0], dxRow = new float[0];

        Gather fit(int ring, int len, int q, int w) {
            if (g.length < ring * len) g = new float[ring * len];
            if (dyRow.length < q) {
                dyRow = new float[q];
                divRow = new float[q];
            }
            if (dxRow.length < w) dxRow = new float[w];
            return this;
        }
    }

    private static final ThreadLocal<Gather> GATHER = ThreadLocal.withInitial(Gather::new);

    /**
     * Average backward where windows overlap, are padded or leave gaps, one plane, gathered instead of scattered:
     * each dX element is the sum of the shares of the windows that cover it, in window order (the order the
     * scalar scatter added them in, so the same bits), and nothing depends on the thread count. Each dY row is
     * expanded once into a row in which window ox's share sits at column ox*strideW + kw - 1 and every other
     * column holds 0; the windows covering dX columns [x, x + lanes) along window column kw-1-u are then one
     * contiguous load at x + padW + u, for any stride. Only the ceil(kh/strideH) window rows that can cover one
     * dX row are kept, in a ring. (Max backward stays a scalar scatter: see the class comment.)
     */
    private static void gatherBackward(Width wd, PoolDesc d, MemorySegment dy, MemorySegment dx, int pl) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w(), sh = d.strideH(), sw = d.strideW(), kh = d.kh(), kw = d.kw();
        int padH = d.padH(), padW = d.padW();
        int len = Math.max(w + padW + kw, (q - 1) * sw + kw), ring = Math.ceilDiv(kh, sh);
        Gather s = GATHER.get().fit(ring, len, q, w);
        long in0 = (long) pl * h * w, out0 = (long) pl * p * q;
        int expanded = -1;
        for (int y = 0; y < h; y++) {
            int oyA = Math.max(0, Math.ceilDiv(y + padH - kh + 1, sh)), oyB = Math.min(p - 1, Math.floorDiv(y + padH, sh));
            while (expanded < oyB) expand(wd, d, dy, out0, ++expanded, len, (expanded % ring) * len, s);
            if (oyA > oyB) Arrays.fill(s.dxRow, 0, w, 0f); // no window covers this row (gaps, ragged edge)
            else avgRow(wd, s, oyA, oyB, ring, len, padW, kw, w);
            MemorySegment.copy(s.dxRow, 0, dx, F, (in0 + (long) y * w) * 4, w);
        }
    }

    /** Window row oy's shares (dy over the window's divisor) into s.g from column at: window ox at ox*strideW + kw - 1, 0 between. */
    private static void expand(Width wd, PoolDesc d, MemorySegment dy, long out0, int oy, int len, int at, Gather s) {
        int q = d.q(), h = d.h(), w = d.w(), sw = d.strideW(), kw = d.kw();
        int y0 = oy * d.strideH() - d.padH(), rows = Math.min(h, y0 + d.kh()) - Math.max(0, y0);
        float[] g = s.dyRow, div = s.divRow;
        Arrays.fill(s.g, at, at + len, 0f);
        MemorySegment.copy(dy, F, (out0 + (long) oy * q) * 4, g, 0, q);
        for (int ox = 0; ox < q; ox++) {
            int x0 = ox * sw - d.padW();
            div[ox] = d.countPadding() ? d.kh() * kw : rows * (Math.min(w, x0 + kw) - Math.max(0, x0));
        }
        // in float: for float operands the double quotient rounded to float is the float quotient, bit for bit
        var sp = wd.floats();
        int ox = 0;
        for (; ox + sp.length() <= q; ox += sp.length())
            FloatVector.fromArray(sp, g, ox).div(FloatVector.fromArray(sp, div, ox)).intoArray(g, ox);
        for (; ox < q; ox++) g[ox] /= div[ox];
        if (sw == 1) System.arraycopy(g, 0, s.g, at + kw - 1, q);
        else for (ox = 0; ox < q; ox++) s.g[at + kw - 1 + ox * sw] = g[ox];
    }

    /**
     * dX row from window rows [oyA, oyB]: a pass along the row per window row and column, added into the row in
     * window order. (The sum lives in the row, read back from L1 per pass, rather than in one vector carried
     * through the nested window loops, for which C2 reported vector reboxing; this form measured as fast or faster.)
     */
    private static void avgRow(Width wd, Gather s, int oyA, int oyB, int ring, int len, int padW, int kw, int w) {
        var sp = wd.floats();
        int l = sp.length(), end = w - w % l;
        float[] g = s.g, out = s.dxRow;
        Arrays.fill(out, 0, w, 0f);
        for (int oy = oyA; oy <= oyB; oy++)
            for (int u = 0, e = (oy % ring) * len + padW; u < kw; u++, e++) {
                for (int x = 0; x < end; x += l)
                    FloatVector.fromArray(sp, out, x).add(FloatVector.fromArray(sp, g, e + x)).intoArray(out, x);
                for (int x = end; x < w; x++) out[x] += g[e + x];
            }
    }
}
