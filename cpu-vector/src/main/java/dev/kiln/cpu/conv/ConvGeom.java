package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.ConvDesc;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A convolution as one regular convolution from a "wide" NCHW tensor X (cx channels, hx x wx) to a "narrow"
 * one Y (cy channels, hy x wy) through weights W (cy x cx/groups x r x s), the same phrasing as the reference
 * (RefConv): a regular convolution has X = src, Y = dst; a transposed one X = dst, Y = src. Per image and
 * group the relation is the GEMM {@code Y_g[cyg][hy*wy] = W_g[cyg][kdim] . col[kdim][hy*wy]} where col is
 * the im2col of X_g: row {@code (ci*r + ry)*s + sx}, column {@code oy*wy + ox} holds
 * {@code X[ci][oy*sh - ph + ry*dh][ox*sw - pw + sx*dw]} (zero outside X). This class builds and scatters col.
 */
record ConvGeom(int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups,
                int r, int s, int sh, int sw, int ph, int pw, int dh, int dw) {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    static ConvGeom of(ConvDesc d) {
        return d.transposed()
                ? new ConvGeom(d.n(), d.k(), d.p(), d.q(), d.c(), d.h(), d.w(), d.groups(), d.r(), d.s(),
                               d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW())
                : new ConvGeom(d.n(), d.c(), d.h(), d.w(), d.k(), d.p(), d.q(), d.groups(), d.r(), d.s(),
                               d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW());
    }

    int cxg() { return cx / groups; }

    int cyg() { return cy / groups; }

    /** Rows of col: the GEMM depth of the forward map. */
    int kdim() { return cxg() * r * s; }

    int xPlane() { return hx * wx; }

    int yPlane() { return hy * wy; }

    /** Element index of X[b][g*cxg][0][0]. */
    long xBase(int b, int g) { return ((long) b * cx + (long) g * cxg()) * xPlane(); }

    /** Element index of Y[b][g*cyg][0][0]. */
    long yBase(int b, int g) { return ((long) b * cy + (long) g * cyg()) * yPlane(); }

    /**
     * For stride 1, the data map (X from Y) as a forward map: a convolution from Y (cy channels, hy x wy) to X
     * with the same taps turned by 180 degrees and padding (r-1)*dh - ph, (s-1)*dw - pw, whose weights are W's
     * with the channel axes swapped per group. Null where that does not hold: strides above 1 (the data map
     * then skips input positions) or padding wider than the dilated kernel.
     */
    ConvGeom adjointAsForward() {
        int ph2 = (r - 1) * dh - ph, pw2 = (s - 1) * dw - pw;
        if (sh != 1 || sw != 1 || ph2 < 0 || pw2 < 0) return null;
        return new ConvGeom(n, cy, hy, wy, cx, hx, wx, groups, r, s, 1, 1, ph2, pw2, dh, dw);
    }

    /** Column offset of kernel tap (ry, sx): ix = ox*sw + xOff(sx). */
    private int xOff(int sx) { return sx * dw - pw; }

    /** First ox whose ix = ox*sw + off is >= 0, and one past the last whose ix < wx. */
    private int oxLo(int off) { return -Math.floorDiv(off, sw); }

    private int oxHi(int off) { return Math.floorDiv(wx - 1 - off, sw) + 1; }

    /**
     * Writes col rows [0, kdim) x columns [j0, j0+ncols) of X_g (starting at element {@code xb}) into
     * {@code col} row-major with row stride ncols.
     */
    void im2col(MemorySegment x, long xb, int j0, int ncols, float[] col) {
        int row = 0;
        for (int ci = 0; ci < cxg(); ci++)
            for (int ry = 0; ry < r; ry++)
                for (int sx = 0; sx < s; sx++, row++) {
                    int off = xOff(sx), lo0 = oxLo(off), hi0 = oxHi(off);
                    long plane = xb + (long) ci * xPlane();
                    int dst = row * ncols, j = j0, end = j0 + ncols;
                    while (j < end) {
                        int oy = j / wy, oxa = j % wy, oxb = Math.min(wy, oxa + end - j);
                        int iy = oy * sh - ph + ry * dh, base = dst + j - j0 - oxa;
                        if (iy < 0 || iy >= hx) {
                            Arrays.fill(col, base + oxa, base + oxb, 0f);
                        } else {
                            int lo = Math.min(oxb, Math.max(oxa, lo0)), hi = Math.max(lo, Math.min(oxb, hi0));
                            Arrays.fill(col, base + oxa, base + lo, 0f);
                            long src = plane + (long) iy * wx + off;
                            if (sw == 1) {
                                if (hi > lo) MemorySegment.copy(x, F, (src + lo) * 4, col, base + lo, hi - lo);
                            } else {
                                for (int ox = lo; ox < hi; ox++) col[base + ox] = x.getAtIndex(F, src + (long) ox * sw);
                            }
                            Arrays.fill(col, base + hi, base + oxb, 0f);
                        }
                        j += oxb - oxa;
                    }
                }
    }

    /** The adjoint of {@link #im2col}: adds col (row stride ncols, columns [j0, j0+ncols)) into X_g at {@code xb}. */
    void col2imAdd(Width w, float[] col, int j0, int ncols, MemorySegment x, long xb) {
        var sp = w.floats();
        int l = sp.length();
        int row = 0;
        for (int ci = 0; ci < cxg(); ci++)
            for (int ry = 0; ry < r; ry++)
                for (int sx = 0; sx < s; sx++, row++) {
                    int off = xOff(sx), lo0 = oxLo(off), hi0 = oxHi(off);
                    long plane = xb + (long) ci * xPlane();
                    int src = row * ncols, j = j0, end = j0 + ncols;
                    while (j < end) {
                        int oy = j / wy, oxa = j % wy, oxb = Math.min(wy, oxa + end - j);
                        int iy = oy * sh - ph + ry * dh, base = src + j - j0 - oxa;
                        if (iy >= 0 && iy < hx) {
                            int lo = Math.min(oxb, Math.max(oxa, lo0)), hi = Math.max(lo, Math.min(oxb, hi0));
                            long dst = plane + (long) iy * wx + off;
                            if (sw == 1) {
                                int ox = lo;
                                for (; ox <= hi - l; ox += l) {
                                    long at = (dst + ox) * 4;
                                    FloatVector.fromMemorySegment(sp, x, at, NATIVE).add(FloatVector.fromArray(sp, col, base + ox))
                                            .intoMemorySegment(x, at, NATIVE);
                                }
                                // Masked tail (rows of a 5x5 conv on 14x14 are shorter than a vector), only where the
                                // whole vector lies inside both operands: otherwise the Vector API takes a slow path.
                                if (ox < hi && base + ox + l <= col.length && (dst + ox + l) * 4 <= x.byteSize()) {
                                    var m = sp.indexInRange(ox, hi);
                                    long at = (dst + ox) * 4;
                                    FloatVector.fromMemorySegment(sp, x, at, NATIVE, m).add(FloatVector.fromArray(sp, col, base + ox, m))
                                            .intoMemorySegment(x, at, NATIVE, m);
                                    ox = hi;
                                }
                                for (; ox < hi; ox++) x.setAtIndex(F, dst + ox, x.getAtIndex(F, dst + ox) + col[base + ox]);
                            } else {
                                for (int ox = lo; ox < hi; ox++) {
                                    long at = dst + (long) ox * sw;
                                    x.setAtIndex(F, at, x.getAtIndex(F, at) + col[base + ox]);
                                }
                            }
                        }
                        j += oxb - oxa;
                    }
                }
    }

    /**
     * Writes the transpose of col rows [k0, k0+kb) over all yPlane columns straight into the packed-B
     * layout of {@link ConvGemm} (depth yPlane, kb columns in slivers of nr; columns past kdim zero).
     */
    void im2colPackedT(MemorySegment x, long xb, int k0, int kb, int nr, float[] dst) {
        int depth = yPlane();
        for (int rr = 0; rr < Math.ceilDiv(kb, nr) * nr; rr++) {
            int sliver = (rr / nr) * depth * nr, lane = rr % nr, row = k0 + rr;
            if (rr >= kb) {
                for (int pq = 0; pq < depth; pq++) dst[sliver + pq * nr + lane] = 0;
                continue;
            }
            int ci = row / (r * s), ry = row / s % r, sx = row % s;
            int off = xOff(sx), lo = Math.min(wy, Math.max(0, oxLo(off))), hi = Math.max(lo, Math.min(wy, oxHi(off)));
            long plane = xb + (long) ci * xPlane();
            for (int oy = 0; oy < hy; oy++) {
                int iy = oy * sh - ph + ry * dh, at = sliver + oy * wy * nr + lane;
                if (iy < 0 || iy >= hx) {
                    for (int ox = 0; ox < wy; ox++) dst[at + ox * nr] = 0;
                    continue;
                }
                long src = plane + (long) iy * wx + off;
                for (int ox = 0; ox < lo; ox++) dst[at + ox * nr] = 0;
                for (int ox = lo; ox < hi; ox++) dst[at + ox * nr] = x.getAtIndex(F, src + (long) ox * sw);
                for (int ox = hi; ox < wy; ox++) dst[at + ox * nr] = 0;
            }
        }
    }
}
