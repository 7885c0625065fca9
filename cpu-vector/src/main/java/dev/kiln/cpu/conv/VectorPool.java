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

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Max and average pooling, forward and backward (see {@link PoolDesc}; NCHW, one plane per image and
 * channel). Windows are clipped to the input once per output row and column, so padding never takes part
 * and the max is the first in-bounds element in row-major window order strictly greater than those before
 * it, exactly as the reference (INDICES = y*w+x within the plane). Tasks are fixed runs of whole planes and
 * backward passes own their input planes (zeroed, then added to in output order), so results do not depend
 * on the thread count. Average forward sums each window row with vector lanes when it is wide enough;
 * the rest is scalar, as pooling windows are small and the passes are bound by memory traffic.
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

    public static void run(Width w, PoolDesc d, Args a) {
        int planes = d.n() * d.c(), per = Math.max(1, TASK_FLOATS / (d.h() * d.w()));
        boolean fwd = d.pass() == Pass.FORWARD, max = d.pool() == PoolKind.MAX;
        MemorySegment src = fwd ? a.host(Arg.SRC) : null, dst = fwd ? a.host(Arg.DST) : null;
        MemorySegment idx = max ? a.host(Arg.INDICES) : null;
        MemorySegment dy = fwd ? null : a.host(Arg.DIFF_DST), dx = fwd ? null : a.host(Arg.DIFF_SRC);
        CpuThreads.parallelFor(Math.ceilDiv(planes, per), task -> {
            for (int pl = task * per; pl < Math.min(planes, (task + 1) * per); pl++) {
                if (fwd && max) maxForward(d, src, dst, idx, pl);
                else if (fwd) avgForward(w, d, src, dst, pl);
                else if (max) maxBackward(d, dy, idx, dx, pl);
                else avgBackward(d, dy, dx, pl);
            }
        });
    }

    private static void maxForward(PoolDesc d, MemorySegment src, MemorySegment dst, MemorySegment idx, int pl) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w();
        if (d.kh() == 2 && d.kw() == 2 && d.padH() == 0 && d.padW() == 0) { // the CNN's 2x2: no clipping, four loads
            maxForward2x2(src, dst, idx, pl, p, q, h, w, d.strideH(), d.strideW());
            return;
        }
        long in0 = (long) pl * h * w, out = (long) pl * p * q;
        for (int oy = 0; oy < p; oy++) {
            int y0 = oy * d.strideH() - d.padH(), ya = Math.max(0, y0), yb = Math.min(h, y0 + d.kh());
            for (int ox = 0; ox < q; ox++, out++) {
                int x0 = ox * d.strideW() - d.padW(), xa = Math.max(0, x0), xb = Math.min(w, x0 + d.kw());
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
                idx.setAtIndex(I, out, best);
            }
        }
    }

    /** Unpadded 2x2 windows (always inside the plane): the general loop's order and ties, unrolled. */
    private static void maxForward2x2(MemorySegment src, MemorySegment dst, MemorySegment idx, int pl, int p, int q, int h, int w,
                                      int sh, int sw) {
        long in0 = (long) pl * h * w, out = (long) pl * p * q;
        for (int oy = 0; oy < p; oy++) {
            int y = oy * sh;
            long r0 = in0 + (long) y * w, r1 = r0 + w;
            for (int ox = 0, x = 0; ox < q; ox++, out++, x += sw) {
                float v0 = src.getAtIndex(F, r0 + x), v1 = src.getAtIndex(F, r0 + x + 1);
                float v2 = src.getAtIndex(F, r1 + x), v3 = src.getAtIndex(F, r1 + x + 1);
                int best = y * w + x;
                float bestV = v0;
                boolean gt = v1 > bestV;
                best = gt ? y * w + x + 1 : best;
                bestV = gt ? v1 : bestV;
                gt = v2 > bestV;
                best = gt ? (y + 1) * w + x : best;
                bestV = gt ? v2 : bestV;
                gt = v3 > bestV;
                best = gt ? (y + 1) * w + x + 1 : best;
                bestV = gt ? v3 : bestV;
                dst.setAtIndex(F, out, bestV);
                idx.setAtIndex(I, out, best);
            }
        }
    }

    private static void avgForward(Width wd, PoolDesc d, MemorySegment src, MemorySegment dst, int pl) {
        int p = d.p(), q = d.q(), h = d.h(), w = d.w();
        long in0 = (long) pl * h * w, out = (long) pl * p * q;
        for (int oy = 0; oy < p; oy++) {
            int y0 = oy * d.strideH() - d.padH(), ya = Math.max(0, y0), yb = Math.min(h, y0 + d.kh());
            for (int ox = 0; ox < q; ox++, out++) {
                int x0 = ox * d.strideW() - d.padW(), xa = Math.max(0, x0), xb = Math.min(w, x0 + d.kw());
                float sum = 0;
                for (int y = ya; y < yb; y++) sum += rowSum(wd, src, in0 + (long) y * w + xa, xb - xa);
                float div = d.countPadding() ? (float) d.kh() * d.kw() : (float) (yb - ya) * (xb - xa);
                dst.setAtIndex(F, out, sum / div);
            }
        }
    }

    private static float rowSum(Width w, MemorySegment seg, long at, int count) {
        var sp = w.floats();
        int l = sp.length(), i = 0;
        float s = 0;
        if (count >= l) {
            FloatVector acc = FloatVector.zero(sp);
            for (; i <= count - l; i += l) acc = acc.add(FloatVector.fromMemorySegment(sp, seg, (at + i) * 4, NATIVE));
            s = Lanes.sum(acc);
        }
        for (; i < count; i++) s += seg.getAtIndex(F, at + i);
        return s;
    }

    private static void maxBackward(PoolDesc d, MemorySegment dy, MemorySegment idx, MemorySegment dx, int pl) {
        long inPlane = (long) d.h() * d.w(), in0 = pl * inPlane, outPlane = (long) d.p() * d.q(), out0 = pl * outPlane;
        dx.asSlice(in0 * 4, inPlane * 4).fill((byte) 0);
        for (long o = out0; o < out0 + outPlane; o++) {
            long at = in0 + idx.getAtIndex(I, o);
            dx.setAtIndex(F, at, dx.getAtIndex(F, at) + dy.getAtIndex(F, o));
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
}
