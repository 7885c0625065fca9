package dev.kiln.cpu.gemm;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The f32 microkernels: a 6 x (2 vectors) tile of C held in 12 accumulators, one broadcast of A and two
 * loads of B per step of k, all FMAs independent (enough to cover FMA latency times throughput on
 * AVX2 and AVX-512), and a 12-row variant for 512-bit vectors ({@link #kernel12}). Operands are packed panels ({@link GemmPack}); the result goes to a small scratch
 * tile and from there into C by {@link #writeBack}, which is where alpha and beta are applied.
 */
final class GemmMicro {
    private GemmMicro() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Multiplies a packed 6 x kc sliver of A (from {@code ai}) by a packed kc x nr sliver of B (from
     * {@code bi}, nr = 2 lanes) and stores the 6 x nr product into {@code tile} (row stride nr).
     */
    static void kernel(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        assert GemmBlocking.MR == 6;
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector c00 = FloatVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        // indices linear in p (not extra induction variables), so C2 can hoist the array range checks
        for (int p = 0; p < kc; p++) {
            int ap = ai + 6 * p, bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[ap + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[ap + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[ap + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[ap + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[ap + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, l);
        c10.intoArray(tile, nr);
        c11.intoArray(tile, nr + l);
        c20.intoArray(tile, 2 * nr);
        c21.intoArray(tile, 2 * nr + l);
        c30.intoArray(tile, 3 * nr);
        c31.intoArray(tile, 3 * nr + l);
        c40.intoArray(tile, 4 * nr);
        c41.intoArray(tile, 4 * nr + l);
        c50.intoArray(tile, 5 * nr);
        c51.intoArray(tile, 5 * nr + l);
    }

    /**
     * As {@link #kernel} with 12 rows: 24 accumulators, for 512-bit vectors where 32 registers hold them
     * with the two B vectors and the broadcast (half the B loads per FMA of the 6-row kernel).
     */
    static void kernel12(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
        FloatVector c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        FloatVector c60 = z, c61 = z, c70 = z, c71 = z, c80 = z, c81 = z;
        FloatVector c90 = z, c91 = z, c100 = z, c101 = z, c110 = z, c111 = z;
        for (int p = 0; p < kc; p++) {
            int ap = ai + 12 * p, bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[ap + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[ap + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[ap + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[ap + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[ap + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(s, a[ap + 6]);
            c60 = x.fma(b0, c60);
            c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(s, a[ap + 7]);
            c70 = x.fma(b0, c70);
            c71 = x.fma(b1, c71);
            x = FloatVector.broadcast(s, a[ap + 8]);
            c80 = x.fma(b0, c80);
            c81 = x.fma(b1, c81);
            x = FloatVector.broadcast(s, a[ap + 9]);
            c90 = x.fma(b0, c90);
            c91 = x.fma(b1, c91);
            x = FloatVector.broadcast(s, a[ap + 10]);
            c100 = x.fma(b0, c100);
            c101 = x.fma(b1, c101);
            x = FloatVector.broadcast(s, a[ap + 11]);
            c110 = x.fma(b0, c110);
            c111 = x.fma(b1, c111);
        }
        c00.intoArray(tile, 0 * nr);
        c01.intoArray(tile, 0 * nr + l);
        c10.intoArray(tile, 1 * nr);
        c11.intoArray(tile, 1 * nr + l);
        c20.intoArray(tile, 2 * nr);
        c21.intoArray(tile, 2 * nr + l);
        c30.intoArray(tile, 3 * nr);
        c31.intoArray(tile, 3 * nr + l);
        c40.intoArray(tile, 4 * nr);
        c41.intoArray(tile, 4 * nr + l);
        c50.intoArray(tile, 5 * nr);
        c51.intoArray(tile, 5 * nr + l);
        c60.intoArray(tile, 6 * nr);
        c61.intoArray(tile, 6 * nr + l);
        c70.intoArray(tile, 7 * nr);
        c71.intoArray(tile, 7 * nr + l);
        c80.intoArray(tile, 8 * nr);
        c81.intoArray(tile, 8 * nr + l);
        c90.intoArray(tile, 9 * nr);
        c91.intoArray(tile, 9 * nr + l);
        c100.intoArray(tile, 10 * nr);
        c101.intoArray(tile, 10 * nr + l);
        c110.intoArray(tile, 11 * nr);
        c111.intoArray(tile, 11 * nr + l);
    }

    /**
     * Writes {@code rows x cols} of the tile (row stride {@code nr}) into C at element {@code ci}:
     * on the first panel of k, C = alpha*acc + beta*C (C not read when beta == 0); on later panels
     * C = C + alpha*acc. Vector body and scalar tail use the same fused operations, so an element's
     * value does not depend on where the tail starts.
     */
    static void writeBack(Width w, float[] tile, int nr, MemorySegment c, long ci, int ldc, int rows, int cols,
                          float alpha, float beta, boolean first) {
        var s = w.floats();
        int l = s.length();
        FloatVector va = FloatVector.broadcast(s, alpha), vb = FloatVector.broadcast(s, beta);
        for (int r = 0; r < rows; r++) {
            long row = ci + (long) r * ldc;
            int t = r * nr, j = 0;
            for (; j <= cols - l; j += l) {
                FloatVector acc = FloatVector.fromArray(s, tile, t + j);
                long off = (row + j) * 4;
                FloatVector v;
                if (!first) v = acc.fma(va, FloatVector.fromMemorySegment(s, c, off, NATIVE));
                else if (beta == 0) v = acc.mul(va);
                else v = FloatVector.fromMemorySegment(s, c, off, NATIVE).fma(vb, acc.mul(va));
                v.intoMemorySegment(c, off, NATIVE);
            }
            for (; j < cols; j++) {
                float acc = tile[t + j];
                float v;
                if (!first) v = Math.fma(acc, alpha, c.getAtIndex(F, row + j));
                else if (beta == 0) v = acc * alpha;
                else v = Math.fma(c.getAtIndex(F, row + j), beta, acc * alpha);
                c.setAtIndex(F, row + j, v);
            }
        }
    }
}
