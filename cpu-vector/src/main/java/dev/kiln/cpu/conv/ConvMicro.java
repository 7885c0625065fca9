package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Microkernels of the band path ({@link ConvBand}): {@link GemmMicro#kernelWide} and {@link GemmMicro#kernel}
 * (a packed 6-row sliver of A times {@code nr} columns of B into a 6 x nr tile) with B not packed. Row p of B
 * is a contiguous run of the band, from {@code rowAt[p0 + p]}: every im2col row is such a run, so the kernel
 * reads the band where the packed path first copied each run into a sliver (one more scalar load per step of
 * k, beside 24 FMAs). Packed A as in {@link ConvGemm}: the sliver's 6 rows of kc values one after the other.
 * Beside those: {@link #tileRowsA} (A's rows read in place, B packed: the weight map), {@link #wideIntoY}
 * (packed A and B, the tile stored straight into Y: {@link ConvBandPacked}) and {@link #wideStridedAdd} (B rows
 * a fixed stride apart, the tile added into the destination: {@link ConvBandData}).
 */
final class ConvMicro {
    private ConvMicro() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Whether the 6 x 4-vector kernel runs (16 lanes: its 24 accumulators need AVX-512's 32 registers). */
    static boolean wide(Width w) { return w.floats().length() >= 16; }

    /** Sliver width in floats: 4 vectors at 16 lanes, else 2. */
    static int nr(Width w) { return (wide(w) ? 4 : 2) * w.floats().length(); }

    /** The 6 x nr tile (row stride nr) of A's sliver at {@code ai} (depth kc) times the band's rows {@code rowAt[p0..]} from column j0. */
    static void tile(Width w, int kc, float[] a, int ai, float[] b, int[] rowAt, int p0, int j0, float[] tile) {
        if (wide(w)) wide(w, kc, a, ai, b, rowAt, p0, j0, tile);
        else narrow(w, kc, a, ai, b, rowAt, p0, j0, tile);
    }

    private static void wide(Width w, int kc, float[] a, int ai, float[] b, int[] rowAt, int p0, int j0, float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int ap = ai + p, bp = rowAt[p0 + p] + j0;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[ap + kc]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(s, a[ap + 2 * kc]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(s, a[ap + 3 * kc]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(s, a[ap + 4 * kc]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(s, a[ap + 5 * kc]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, l); c02.intoArray(tile, 2 * l); c03.intoArray(tile, 3 * l);
        c10.intoArray(tile, nr); c11.intoArray(tile, nr + l); c12.intoArray(tile, nr + 2 * l); c13.intoArray(tile, nr + 3 * l);
        c20.intoArray(tile, 2 * nr); c21.intoArray(tile, 2 * nr + l); c22.intoArray(tile, 2 * nr + 2 * l); c23.intoArray(tile, 2 * nr + 3 * l);
        c30.intoArray(tile, 3 * nr); c31.intoArray(tile, 3 * nr + l); c32.intoArray(tile, 3 * nr + 2 * l); c33.intoArray(tile, 3 * nr + 3 * l);
        c40.intoArray(tile, 4 * nr); c41.intoArray(tile, 4 * nr + l); c42.intoArray(tile, 4 * nr + 2 * l); c43.intoArray(tile, 4 * nr + 3 * l);
        c50.intoArray(tile, 5 * nr); c51.intoArray(tile, 5 * nr + l); c52.intoArray(tile, 5 * nr + 2 * l); c53.intoArray(tile, 5 * nr + 3 * l);
    }

    private static void narrow(Width w, int kc, float[] a, int ai, float[] b, int[] rowAt, int p0, int j0, float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector c00 = FloatVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++) {
            int ap = ai + p, bp = rowAt[p0 + p] + j0;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[ap + kc]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[ap + 2 * kc]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[ap + 3 * kc]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[ap + 4 * kc]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[ap + 5 * kc]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, l);
        c10.intoArray(tile, nr); c11.intoArray(tile, nr + l);
        c20.intoArray(tile, 2 * nr); c21.intoArray(tile, 2 * nr + l);
        c30.intoArray(tile, 3 * nr); c31.intoArray(tile, 3 * nr + l);
        c40.intoArray(tile, 4 * nr); c41.intoArray(tile, 4 * nr + l);
        c50.intoArray(tile, 5 * nr); c51.intoArray(tile, 5 * nr + l);
    }
    /**
     * The wide kernel (16 lanes) on a packed sliver of A at {@code ai} (6 rows of kc, one after the other) and a
     * packed sliver of B at {@code bi} (kc groups of 4 vectors), the 6 x 4 vectors of the product stored straight
     * into Y: row r at element {@code at + r * plane}, plus {@code bias[biasAt + r]} when biasAt >= 0 (added
     * after the sum, as the tile paths do). For whole tiles of {@link ConvBandPacked}: going through a tile
     * array cost a store and a reload of every vector.
     */
    static void wideIntoY(Width w, int kc, float[] a, int ai, float[] b, int bi, MemorySegment y, long at, int plane,
                          float[] bias, int biasAt) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l, a1 = ai + kc, a2 = ai + 2 * kc, a3 = ai + 3 * kc, a4 = ai + 4 * kc, a5 = ai + 5 * kc;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ai + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[a1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(s, a[a2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(s, a[a3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(s, a[a4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(s, a[a5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        // written out, not through a helper taking the vectors: C2 did not inline one here, and boxed them (12x slower)
        if (biasAt >= 0) {
            float v0 = bias[biasAt], v1 = bias[biasAt + 1], v2 = bias[biasAt + 2], v3 = bias[biasAt + 3], v4 = bias[biasAt + 4],
                  v5 = bias[biasAt + 5];
            c00 = c00.add(v0); c01 = c01.add(v0); c02 = c02.add(v0); c03 = c03.add(v0);
            c10 = c10.add(v1); c11 = c11.add(v1); c12 = c12.add(v1); c13 = c13.add(v1);
            c20 = c20.add(v2); c21 = c21.add(v2); c22 = c22.add(v2); c23 = c23.add(v2);
            c30 = c30.add(v3); c31 = c31.add(v3); c32 = c32.add(v3); c33 = c33.add(v3);
            c40 = c40.add(v4); c41 = c41.add(v4); c42 = c42.add(v4); c43 = c43.add(v4);
            c50 = c50.add(v5); c51 = c51.add(v5); c52 = c52.add(v5); c53 = c53.add(v5);
        }
        long o = at * 4, step = (long) plane * 4, v1 = 4L * l, v2 = 8L * l, v3 = 12L * l;
        c00.intoMemorySegment(y, o, NATIVE); c01.intoMemorySegment(y, o + v1, NATIVE);
        c02.intoMemorySegment(y, o + v2, NATIVE); c03.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c10.intoMemorySegment(y, o, NATIVE); c11.intoMemorySegment(y, o + v1, NATIVE);
        c12.intoMemorySegment(y, o + v2, NATIVE); c13.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c20.intoMemorySegment(y, o, NATIVE); c21.intoMemorySegment(y, o + v1, NATIVE);
        c22.intoMemorySegment(y, o + v2, NATIVE); c23.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c30.intoMemorySegment(y, o, NATIVE); c31.intoMemorySegment(y, o + v1, NATIVE);
        c32.intoMemorySegment(y, o + v2, NATIVE); c33.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c40.intoMemorySegment(y, o, NATIVE); c41.intoMemorySegment(y, o + v1, NATIVE);
        c42.intoMemorySegment(y, o + v2, NATIVE); c43.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c50.intoMemorySegment(y, o, NATIVE); c51.intoMemorySegment(y, o + v1, NATIVE);
        c52.intoMemorySegment(y, o + v2, NATIVE); c53.intoMemorySegment(y, o + v3, NATIVE);
    }

    /**
     * {@link #wideIntoY} for a sliver of A with 4 real rows (the last of 64 output channels): 16 accumulators and
     * 16 FMAs a step, where the 6-row kernel spends 24 on two zero rows.
     */
    static void wide4IntoY(Width w, int kc, float[] a, int ai, float[] b, int bi, MemorySegment y, long at, int plane,
                           float[] bias, int biasAt) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l, a1 = ai + kc, a2 = ai + 2 * kc, a3 = ai + 3 * kc;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        for (int p = 0; p < kc; p++) {
            int bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ai + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[a1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(s, a[a2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(s, a[a3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
        }
        if (biasAt >= 0) {
            float v0 = bias[biasAt], v1 = bias[biasAt + 1], v2 = bias[biasAt + 2], v3 = bias[biasAt + 3];
            c00 = c00.add(v0); c01 = c01.add(v0); c02 = c02.add(v0); c03 = c03.add(v0);
            c10 = c10.add(v1); c11 = c11.add(v1); c12 = c12.add(v1); c13 = c13.add(v1);
            c20 = c20.add(v2); c21 = c21.add(v2); c22 = c22.add(v2); c23 = c23.add(v2);
            c30 = c30.add(v3); c31 = c31.add(v3); c32 = c32.add(v3); c33 = c33.add(v3);
        }
        long o = at * 4, step = (long) plane * 4, v1 = 4L * l, v2 = 8L * l, v3 = 12L * l;
        c00.intoMemorySegment(y, o, NATIVE); c01.intoMemorySegment(y, o + v1, NATIVE);
        c02.intoMemorySegment(y, o + v2, NATIVE); c03.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c10.intoMemorySegment(y, o, NATIVE); c11.intoMemorySegment(y, o + v1, NATIVE);
        c12.intoMemorySegment(y, o + v2, NATIVE); c13.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c20.intoMemorySegment(y, o, NATIVE); c21.intoMemorySegment(y, o + v1, NATIVE);
        c22.intoMemorySegment(y, o + v2, NATIVE); c23.intoMemorySegment(y, o + v3, NATIVE);
        o += step;
        c30.intoMemorySegment(y, o, NATIVE); c31.intoMemorySegment(y, o + v1, NATIVE);
        c32.intoMemorySegment(y, o + v2, NATIVE); c33.intoMemorySegment(y, o + v3, NATIVE);
    }

    /**
     * The wide kernel (16 lanes) on a packed sliver of A at {@code ai} (6 rows of kc, one after the other) and B
     * rows {@code ldb} apart from {@code bi} (4 vectors each), the product added into {@code dst}: row r's 4
     * vectors at {@code d0..d5}. For {@link ConvBandData}, whose B is padded Y (channel rows ldb apart) and whose
     * tiles go into X's phase planes: the table of row starts and the tile array's store and reload made the
     * stem's backward-data take 1.08x as long (the sum is the same: from zero over k, then added).
     */
    static void wideStridedAdd(Width w, int kc, float[] a, int ai, float[] b, int bi, int ldb, float[] dst,
                               int d0, int d1, int d2, int d3, int d4, int d5) {
        var s = w.floats();
        int l = s.length(), a1 = ai + kc, a2 = ai + 2 * kc, a3 = ai + 3 * kc, a4 = ai + 4 * kc, a5 = ai + 5 * kc;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bp = bi + ldb * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ai + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[a1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(s, a[a2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(s, a[a3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(s, a[a4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(s, a[a5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        // written out (see wideIntoY)
        FloatVector.fromArray(s, dst, d0).add(c00).intoArray(dst, d0);
        FloatVector.fromArray(s, dst, d0 + l).add(c01).intoArray(dst, d0 + l);
        FloatVector.fromArray(s, dst, d0 + 2 * l).add(c02).intoArray(dst, d0 + 2 * l);
        FloatVector.fromArray(s, dst, d0 + 3 * l).add(c03).intoArray(dst, d0 + 3 * l);
        FloatVector.fromArray(s, dst, d1).add(c10).intoArray(dst, d1);
        FloatVector.fromArray(s, dst, d1 + l).add(c11).intoArray(dst, d1 + l);
        FloatVector.fromArray(s, dst, d1 + 2 * l).add(c12).intoArray(dst, d1 + 2 * l);
        FloatVector.fromArray(s, dst, d1 + 3 * l).add(c13).intoArray(dst, d1 + 3 * l);
        FloatVector.fromArray(s, dst, d2).add(c20).intoArray(dst, d2);
        FloatVector.fromArray(s, dst, d2 + l).add(c21).intoArray(dst, d2 + l);
        FloatVector.fromArray(s, dst, d2 + 2 * l).add(c22).intoArray(dst, d2 + 2 * l);
        FloatVector.fromArray(s, dst, d2 + 3 * l).add(c23).intoArray(dst, d2 + 3 * l);
        FloatVector.fromArray(s, dst, d3).add(c30).intoArray(dst, d3);
        FloatVector.fromArray(s, dst, d3 + l).add(c31).intoArray(dst, d3 + l);
        FloatVector.fromArray(s, dst, d3 + 2 * l).add(c32).intoArray(dst, d3 + 2 * l);
        FloatVector.fromArray(s, dst, d3 + 3 * l).add(c33).intoArray(dst, d3 + 3 * l);
        FloatVector.fromArray(s, dst, d4).add(c40).intoArray(dst, d4);
        FloatVector.fromArray(s, dst, d4 + l).add(c41).intoArray(dst, d4 + l);
        FloatVector.fromArray(s, dst, d4 + 2 * l).add(c42).intoArray(dst, d4 + 2 * l);
        FloatVector.fromArray(s, dst, d4 + 3 * l).add(c43).intoArray(dst, d4 + 3 * l);
        FloatVector.fromArray(s, dst, d5).add(c50).intoArray(dst, d5);
        FloatVector.fromArray(s, dst, d5 + l).add(c51).intoArray(dst, d5 + l);
        FloatVector.fromArray(s, dst, d5 + 2 * l).add(c52).intoArray(dst, d5 + 2 * l);
        FloatVector.fromArray(s, dst, d5 + 3 * l).add(c53).intoArray(dst, d5 + 3 * l);
    }


    /**
     * The 6 x nr tile (row stride nr) of A's rows, row r a contiguous run of {@code a} from {@code a0..a5} (depth
     * kc), times a packed sliver of B at {@code bi} (kc groups of nr): the weight map's product, whose A rows
     * are the band's im2col runs and whose B is dY transposed. Every index is linear in the depth step, so the
     * JIT hoists the range checks as in {@link GemmMicro#kernelWide}.
     */
    static void tileRowsA(Width w, int kc, float[] a, int a0, int a1, int a2, int a3, int a4, int a5, float[] b, int bi, float[] tile) {
        if (wide(w)) wideRowsA(w, kc, a, a0, a1, a2, a3, a4, a5, b, bi, tile);
        else narrowRowsA(w, kc, a, a0, a1, a2, a3, a4, a5, b, bi, tile);
    }

    private static void wideRowsA(Width w, int kc, float[] a, int a0, int a1, int a2, int a3, int a4, int a5, float[] b, int bi,
                                  float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[a0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[a1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(s, a[a2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(s, a[a3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(s, a[a4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(s, a[a5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, l); c02.intoArray(tile, 2 * l); c03.intoArray(tile, 3 * l);
        c10.intoArray(tile, nr); c11.intoArray(tile, nr + l); c12.intoArray(tile, nr + 2 * l); c13.intoArray(tile, nr + 3 * l);
        c20.intoArray(tile, 2 * nr); c21.intoArray(tile, 2 * nr + l); c22.intoArray(tile, 2 * nr + 2 * l); c23.intoArray(tile, 2 * nr + 3 * l);
        c30.intoArray(tile, 3 * nr); c31.intoArray(tile, 3 * nr + l); c32.intoArray(tile, 3 * nr + 2 * l); c33.intoArray(tile, 3 * nr + 3 * l);
        c40.intoArray(tile, 4 * nr); c41.intoArray(tile, 4 * nr + l); c42.intoArray(tile, 4 * nr + 2 * l); c43.intoArray(tile, 4 * nr + 3 * l);
        c50.intoArray(tile, 5 * nr); c51.intoArray(tile, 5 * nr + l); c52.intoArray(tile, 5 * nr + 2 * l); c53.intoArray(tile, 5 * nr + 3 * l);
    }

    private static void narrowRowsA(Width w, int kc, float[] a, int a0, int a1, int a2, int a3, int a4, int a5, float[] b, int bi,
                                    float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector c00 = FloatVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++) {
            int bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector x = FloatVector.broadcast(s, a[a0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[a1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[a2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[a3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[a4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[a5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, l);
        c10.intoArray(tile, nr); c11.intoArray(tile, nr + l);
        c20.intoArray(tile, 2 * nr); c21.intoArray(tile, 2 * nr + l);
        c30.intoArray(tile, 3 * nr); c31.intoArray(tile, 3 * nr + l);
        c40.intoArray(tile, 4 * nr); c41.intoArray(tile, 4 * nr + l);
        c50.intoArray(tile, 5 * nr); c51.intoArray(tile, 5 * nr + l);
    }
}
