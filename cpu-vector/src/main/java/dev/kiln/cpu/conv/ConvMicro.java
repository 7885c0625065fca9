package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;
import jdk.incubator.vector.FloatVector;

/**
 * Microkernels of the band path ({@link ConvBand}): {@link GemmMicro#kernelWide} and {@link GemmMicro#kernel}
 * (a packed 6-row sliver of A times {@code nr} columns of B into a 6 x nr tile) with B not packed. Row p of B
 * is a contiguous run of the band, from {@code rowAt[p0 + p]}: every im2col row is such a run, so the kernel
 * reads the band where the packed path first copied each run into a sliver (one more scalar load per step of
 * k, beside 24 FMAs). Packed A as in {@link ConvGemm}: the sliver's 6 rows of kc values one after the other.
 */
final class ConvMicro {
    private ConvMicro() {}

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
