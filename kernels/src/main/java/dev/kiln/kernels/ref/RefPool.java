package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;

import java.lang.foreign.MemorySegment;

/**
 * Reference pooling. Window (oy, ox) covers rows oy*strideH - padH + [0, kh) and columns likewise; only
 * in-bounds elements take part (every window has one: the descriptor keeps padding at most half the
 * window). Max: the first in-bounds element in row-major window order that is strictly greater than all
 * before it; INDICES holds its y*w+x within the plane. Average: the in-bounds sum over kh*kw when
 * countPadding, else over the number of in-bounds elements, in double (max forward without INDICES writes
 * DST alone). Backward overwrites DIFF_SRC: max adds each dy to the element INDICES names, average spreads
 * dy/divisor over the window's in-bounds part.
 */
final class RefPool {
    private RefPool() {}

    static void run(PoolDesc d, Args args) {
        DType t = d.dtype();
        int p = d.p(), q = d.q(), h = d.h(), w = d.w();
        long planes = (long) d.n() * d.c(), inPlane = (long) h * w, outPlane = (long) p * q;
        boolean fwd = d.pass() == Pass.FORWARD, max = d.pool() == PoolKind.MAX;
        MemorySegment src = fwd ? args.host(Arg.SRC) : null, dst = fwd ? args.host(Arg.DST) : null;
        MemorySegment idx = d.indices() ? args.host(Arg.INDICES) : null; // max forward may be without (PoolDesc.withoutIndices)
        MemorySegment dy = fwd ? null : args.host(Arg.DIFF_DST);
        double[] dx = fwd ? null : new double[Math.toIntExact(d.srcCount())];
        for (long pl = 0; pl < planes; pl++) {
            long in0 = pl * inPlane;
            for (int oy = 0; oy < p; oy++) {
                for (int ox = 0; ox < q; ox++) {
                    long out = pl * outPlane + (long) oy * q + ox;
                    int y0 = oy * d.strideH() - d.padH(), x0 = ox * d.strideW() - d.padW();
                    int ya = Math.max(0, y0), yb = Math.min(h, y0 + d.kh()), xa = Math.max(0, x0), xb = Math.min(w, x0 + d.kw());
                    if (max && fwd) {
                        int best = -1;
                        double bestV = 0;
                        for (int y = ya; y < yb; y++)
                            for (int x = xa; x < xb; x++) {
                                double v = Mem.f(t, src, in0 + (long) y * w + x);
                                if (best < 0 || v > bestV) { best = y * w + x; bestV = v; }
                            }
                        Mem.f(t, dst, out, bestV);
                        if (idx != null) Mem.i32(idx, out, best);
                    } else if (max) {
                        dx[(int) (in0 + Mem.i32(idx, out))] += Mem.f(t, dy, out);
                    } else {
                        double div = d.countPadding() ? (double) d.kh() * d.kw() : (double) (yb - ya) * (xb - xa);
                        double sum = 0, g = fwd ? 0 : Mem.f(t, dy, out) / div;
                        for (int y = ya; y < yb; y++)
                            for (int x = xa; x < xb; x++) {
                                long at = in0 + (long) y * w + x;
                                if (fwd) sum += Mem.f(t, src, at); else dx[(int) at] += g;
                            }
                        if (fwd) Mem.f(t, dst, out, sum / div);
                    }
                }
            }
        }
        if (!fwd) {
            MemorySegment ds = args.host(Arg.DIFF_SRC);
            for (int i = 0; i < dx.length; i++) Mem.f(t, ds, i, dx[i]);
        }
    }
}
