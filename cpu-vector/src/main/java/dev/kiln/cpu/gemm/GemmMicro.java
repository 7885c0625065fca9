package dev.kiln.cpu.gemm;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The f32 microkernel: a 6 x (2 vectors) tile of C held in 12 accumulators, one broadcast of A and two
 * loads of B per step of k, all FMAs independent (enough to cover FMA latency times throughput on
 * AVX2 and AVX-512). Operands are packed panels ({@link GemmPack}); the result goes to a small scratch
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
        for (int p = 0; p < kc; p++, ai += 6, bi += nr) {
            FloatVector b0 = FloatVector.fromArray(s, b, bi), b1 = FloatVector.fromArray(s, b, bi + l);
            FloatVector x = FloatVector.broadcast(s, a[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(s, a[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(s, a[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(s, a[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(s, a[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(s, a[ai + 5]);
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
