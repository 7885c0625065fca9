package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference convolution, every pass, regular and transposed, as one seven-deep loop.
 *
 * <p>Everything is phrased in terms of one regular convolution relating a "wide" tensor X (channels cx,
 * hx x wx) to a "narrow" tensor Y (channels cy, hy x wy) through weights W (cy x cx/groups x r x s):
 * {@code Y[b][o][y][x] = sum W[o][i][ry][sx] * X[b][g*cx/groups + i][y*sh - ph + ry*dh][x*sw - pw + sx*dw]}
 * with g = o / (cy/groups), out-of-range X reading as zero. The three linear maps of that relation are
 * {@code Y = fwd(X, W)}, {@code X = data(Y, W)} (the adjoint in X) and {@code W = weights(X, Y)} (the adjoint
 * in W). A regular convolution has X = src, Y = dst; a transposed one has X = dst (k channels, p x q) and
 * Y = src (c channels, h x w), so its forward is {@code data} and its backward-data is {@code fwd}.
 * Bias is added per output channel (k) and its gradient sums DIFF_DST over n, p, q. All sums in double.
 */
final class RefConv {
    private RefConv() {}

    private enum Map { FWD, DATA, WEIGHTS }

    /** The regular convolution X -> Y described above. */
    private record Geom(int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups,
                        int r, int s, int sh, int sw, int ph, int pw, int dh, int dw) {
        long xCount() { return (long) n * cx * hx * wx; }

        long yCount() { return (long) n * cy * hy * wy; }

        long wCount() { return (long) cy * (cx / groups) * r * s; }
    }

    static void run(ConvDesc d, Args args) {
        DType t = d.dtype();
        boolean tr = d.transposed();
        // Transposed: the wide side is dst (k channels, p x q), the narrow side is src (c channels, h x w).
        Geom g = tr ? new Geom(d.n(), d.k(), d.p(), d.q(), d.c(), d.h(), d.w(), d.groups(), d.r(), d.s(),
                              d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW())
                   : new Geom(d.n(), d.c(), d.h(), d.w(), d.k(), d.p(), d.q(), d.groups(), d.r(), d.s(),
                              d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW());
        switch (d.pass()) {
            case FORWARD -> {
                MemorySegment src = args.host(Arg.SRC), wt = args.host(Arg.WEIGHTS), dst = args.host(Arg.DST);
                double[] out = tr ? apply(t, g, Map.DATA, null, wt, src) : apply(t, g, Map.FWD, src, wt, null);
                if (d.bias()) addBias(t, d, out, args.host(Arg.BIAS));
                store(t, out, dst);
            }
            case BACKWARD_DATA -> {
                MemorySegment dy = args.host(Arg.DIFF_DST), wt = args.host(Arg.WEIGHTS);
                store(t, tr ? apply(t, g, Map.FWD, dy, wt, null) : apply(t, g, Map.DATA, null, wt, dy), args.host(Arg.DIFF_SRC));
            }
            case BACKWARD_WEIGHTS -> {
                MemorySegment src = args.host(Arg.SRC), dy = args.host(Arg.DIFF_DST);
                store(t, tr ? apply(t, g, Map.WEIGHTS, dy, null, src) : apply(t, g, Map.WEIGHTS, src, null, dy), args.host(Arg.DIFF_WEIGHTS));
                if (d.bias()) store(t, biasGrad(t, d, dy), args.host(Arg.DIFF_BIAS));
            }
        }
    }

    /**
     * Computes one of the three maps. The operand being produced is passed as null; the result has its
     * element count and is accumulated in double.
     */
    private static double[] apply(DType t, Geom g, Map map, MemorySegment x, MemorySegment w, MemorySegment y) {
        double[] acc = new double[Math.toIntExact(switch (map) { case FWD -> g.yCount(); case DATA -> g.xCount(); case WEIGHTS -> g.wCount(); })];
        int cxg = g.cx / g.groups, cyg = g.cy / g.groups;
        for (int b = 0; b < g.n; b++)
            for (int o = 0; o < g.cy; o++) {
                int grp = o / cyg;
                for (int oy = 0; oy < g.hy; oy++)
                    for (int ox = 0; ox < g.wy; ox++) {
                        long yi = (((long) b * g.cy + o) * g.hy + oy) * g.wy + ox;
                        for (int i = 0; i < cxg; i++)
                            for (int ry = 0; ry < g.r; ry++) {
                                int iy = oy * g.sh - g.ph + ry * g.dh;
                                if (iy < 0 || iy >= g.hx) continue;
                                for (int sx = 0; sx < g.s; sx++) {
                                    int ix = ox * g.sw - g.pw + sx * g.dw;
                                    if (ix < 0 || ix >= g.wx) continue;
                                    long xi = (((long) b * g.cx + grp * cxg + i) * g.hx + iy) * g.wx + ix;
                                    long wi = (((long) o * cxg + i) * g.r + ry) * g.s + sx;
                                    switch (map) {
                                        case FWD -> acc[(int) yi] += (double) Mem.f(t, x, xi) * Mem.f(t, w, wi);
                                        case DATA -> acc[(int) xi] += (double) Mem.f(t, y, yi) * Mem.f(t, w, wi);
                                        case WEIGHTS -> acc[(int) wi] += (double) Mem.f(t, x, xi) * Mem.f(t, y, yi);
                                    }
                                }
                            }
                    }
            }
        return acc;
    }

    private static void addBias(DType t, ConvDesc d, double[] out, MemorySegment bias) {
        long plane = (long) d.p() * d.q();
        for (int b = 0; b < d.n(); b++)
            for (int ch = 0; ch < d.k(); ch++)
                for (long e = 0; e < plane; e++) out[(int) (((long) b * d.k() + ch) * plane + e)] += Mem.f(t, bias, ch);
    }

    private static double[] biasGrad(DType t, ConvDesc d, MemorySegment dy) {
        double[] db = new double[d.k()];
        long plane = (long) d.p() * d.q();
        for (int b = 0; b < d.n(); b++)
            for (int ch = 0; ch < d.k(); ch++)
                for (long e = 0; e < plane; e++) db[ch] += Mem.f(t, dy, ((long) b * d.k() + ch) * plane + e);
        return db;
    }

    private static void store(DType t, double[] values, MemorySegment dst) {
        for (int i = 0; i < values.length; i++) Mem.f(t, dst, i, values[i]);
    }
}
