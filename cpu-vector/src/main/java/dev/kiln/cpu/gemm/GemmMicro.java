package dev.kiln.cpu.gemm;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The f32 microkernels: a 6 x (2 vectors) tile of C held in 12 accumulators, one broadcast of A and two
 * loads of B per step of k, all FMAs independent (enough to cover FMA latency times throughput on
 * AVX2 and AVX-512), and a 4-vector-wide variant for 512-bit vectors ({@link #kernelWide}). Operands are packed panels ({@link GemmPack}); the result goes to a small scratch
 * tile and from there into C by {@link #writeBack}, which is where alpha and beta are applied.
 */
public final class GemmMicro {
    private GemmMicro() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Multiplies a packed 6 x kc sliver of A (from {@code ai}: its 6 rows of kc values one after the other)
     * by a packed kc x nr sliver of B (from {@code bi}, nr = 2 lanes, kc groups of nr values) and stores the
     * 6 x nr product into {@code tile} (row stride nr). Public for the convolution's GEMM, which packs the same way.
     */
    public static void kernel(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        assert GemmBlocking.MR == 6;
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector c00 = FloatVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        // indices linear in p (not extra induction variables), so C2 can hoist the array range checks
        for (int p = 0; p < kc; p++) {
            int ap = ai + p, bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[ap + 1 * kc]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[ap + 2 * kc]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[ap + 3 * kc]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[ap + 4 * kc]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[ap + 5 * kc]);
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
     * As {@link #kernel} with 4 vectors of B: a 6 x (4 vectors) tile in 24 accumulators, for 512-bit vectors
     * (32 registers). 6 broadcasts of A and 4 loads of B per step of k, 10 loads per 24 FMAs: about 10% faster
     * on Zen 4 than the 12 x (2 vectors) shape it replaced (12 broadcasts and 2 loads), whose inner loop C2
     * compiled cleanly too (broadcasts from memory, no range checks or spills in the loop). Public for the
     * convolution's GEMM, which packs the same way.
     */
    public static void kernelWide(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 4 * l;
        FloatVector z = FloatVector.zero(s);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int ap = ai + p, bp = bi + nr * p;
            FloatVector b0 = FloatVector.fromArray(s, b, bp), b1 = FloatVector.fromArray(s, b, bp + l);
            FloatVector b2 = FloatVector.fromArray(s, b, bp + 2 * l), b3 = FloatVector.fromArray(s, b, bp + 3 * l);
            FloatVector x;
            x = FloatVector.broadcast(s, a[ap]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(s, a[ap + 1 * kc]);
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
