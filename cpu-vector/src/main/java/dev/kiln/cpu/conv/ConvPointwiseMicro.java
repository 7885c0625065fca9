package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The 6 x 4-vector microkernel of {@link dev.kiln.cpu.gemm.GemmMicro#kernelWide} for {@link ConvPointwise}'s first
 * A sliver of each B sliver: it reads the kc x nr sliver of B in place from X (row stride {@code ldx}) and, beside
 * the FMAs, stores it packed for the remaining A slivers. The reads of X from memory then overlap FMAs instead of
 * running in a packing loop of their own. Same FMAs in the same order as kernelWide, so the same bits. Also the
 * 6 x 1-vector kernel for a last sliver one vector wide.
 */
final class ConvPointwiseMicro {
    private ConvPointwiseMicro() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * tile (6 x nr, row stride nr) = packed A sliver (from {@code ai}, 6 rows of kc) times the kc x nr block of X
     * whose row p starts at element {@code xi + p*ldx}; that block is also written packed to {@code bp} from {@code bi}.
     */
    static void kernelWidePacking(Width w, int kc, float[] a, int ai, MemorySegment x, long xi, int ldx, float[] bp, int bi,
                                  float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int ap = ai + p, bo = bi + nr * p;
            long xo = (xi + (long) p * ldx) * 4;
            FloatVector b0 = FloatVector.fromMemorySegment(s, x, xo, NATIVE), b1 = FloatVector.fromMemorySegment(s, x, xo + 4L * l, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(s, x, xo + 8L * l, NATIVE), b3 = FloatVector.fromMemorySegment(s, x, xo + 12L * l, NATIVE);
            b0.intoArray(bp, bo); b1.intoArray(bp, bo + l); b2.intoArray(bp, bo + 2 * l); b3.intoArray(bp, bo + 3 * l);
            FloatVector v;
            v = FloatVector.broadcast(s, a[ap]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02); c03 = v.fma(b3, c03);
            v = FloatVector.broadcast(s, a[ap + 1 * kc]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12); c13 = v.fma(b3, c13);
            v = FloatVector.broadcast(s, a[ap + 2 * kc]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22); c23 = v.fma(b3, c23);
            v = FloatVector.broadcast(s, a[ap + 3 * kc]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32); c33 = v.fma(b3, c33);
            v = FloatVector.broadcast(s, a[ap + 4 * kc]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41); c42 = v.fma(b2, c42); c43 = v.fma(b3, c43);
            v = FloatVector.broadcast(s, a[ap + 5 * kc]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51); c52 = v.fma(b2, c52); c53 = v.fma(b3, c53);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, l); c02.intoArray(tile, 2 * l); c03.intoArray(tile, 3 * l);
        c10.intoArray(tile, nr); c11.intoArray(tile, nr + l); c12.intoArray(tile, nr + 2 * l); c13.intoArray(tile, nr + 3 * l);
        c20.intoArray(tile, 2 * nr); c21.intoArray(tile, 2 * nr + l); c22.intoArray(tile, 2 * nr + 2 * l); c23.intoArray(tile, 2 * nr + 3 * l);
        c30.intoArray(tile, 3 * nr); c31.intoArray(tile, 3 * nr + l); c32.intoArray(tile, 3 * nr + 2 * l); c33.intoArray(tile, 3 * nr + 3 * l);
        c40.intoArray(tile, 4 * nr); c41.intoArray(tile, 4 * nr + l); c42.intoArray(tile, 4 * nr + 2 * l); c43.intoArray(tile, 4 * nr + 3 * l);
        c50.intoArray(tile, 5 * nr); c51.intoArray(tile, 5 * nr + l); c52.intoArray(tile, 5 * nr + 2 * l); c53.intoArray(tile, 5 * nr + 3 * l);
    }

    /**
     * The 6 x 1-vector product for a last sliver of at most one vector of columns: tile (row stride {@code nr}, first
     * vector of each row) = packed A sliver times the first vector of each row of the packed B sliver at {@code bi}
     * (row stride nr). Per lane the same FMAs in the same order as kernelWide on that sliver, so the same bits;
     * six chains instead of 24 (4-cycle FMAs on two pipes: up to 3/4 of the rate, where the 4-vector kernel's
     * useful share on one vector is 1/4).
     */
    static void kernelOneVector(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        var s = w.floats();
        int nr = 4 * s.length();
        FloatVector c0 = FloatVector.zero(s), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        for (int p = 0; p < kc; p++) {
            int ap = ai + p;
            FloatVector b0 = FloatVector.fromArray(s, b, bi + nr * p);
            c0 = FloatVector.broadcast(s, a[ap]).fma(b0, c0);
            c1 = FloatVector.broadcast(s, a[ap + kc]).fma(b0, c1);
            c2 = FloatVector.broadcast(s, a[ap + 2 * kc]).fma(b0, c2);
            c3 = FloatVector.broadcast(s, a[ap + 3 * kc]).fma(b0, c3);
            c4 = FloatVector.broadcast(s, a[ap + 4 * kc]).fma(b0, c4);
            c5 = FloatVector.broadcast(s, a[ap + 5 * kc]).fma(b0, c5);
        }
        c0.intoArray(tile, 0); c1.intoArray(tile, nr); c2.intoArray(tile, 2 * nr);
        c3.intoArray(tile, 3 * nr); c4.intoArray(tile, 4 * nr); c5.intoArray(tile, 5 * nr);
    }
}
