package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The single-threaded packed f32 GEMM the convolution passes run inside their own tasks (the parallelism is
 * over images, groups and column blocks, one level up, so this never calls the thread pool). Row-major.
 *
 * <p>Packed A ({@code m x k}): for each sliver of {@link #MR} rows, k groups of MR values (row fastest);
 * sliver {@code i} starts at {@code i * k * MR}. Packed B ({@code k x n}): for each sliver of {@code nr = 2
 * lanes} columns, k groups of nr values; sliver {@code j} starts at {@code j * k * nr}. Rows and columns
 * beyond the edge are zero. Both are packed over the full depth, and the kernel walks the depth in chunks
 * of {@link #KC} (an A and B sliver chunk stay in L1/L2), adding each chunk's tile into C. The chunking
 * depends only on k, so results do not depend on the thread count.
 */
final class ConvGemm {
    private ConvGemm() {}

    static final int MR = 6;
    static final int KC = 256;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    static int nr(Width w) { return 2 * w.floats().length(); }

    /** Floats a packed A of m x k takes. */
    static int packedA(int m, int k) { return Math.ceilDiv(m, MR) * MR * k; }

    /** Floats a packed B of k x n takes at width {@code nr}. */
    static int packedB(int k, int n, int nr) { return Math.ceilDiv(n, nr) * nr * k; }

    /**
     * Packs the m x k matrix whose element (i, p) is {@code a[base + i*lda + p]} ({@code trans}: {@code
     * a[base + p*lda + i]}) into {@code dst} from {@code dstOff}.
     */
    static void packA(MemorySegment a, long base, int lda, boolean trans, int m, int k, float[] dst, int dstOff) {
        for (int ir = 0, sliver = dstOff; ir < m; ir += MR, sliver += k * MR) {
            int rows = Math.min(MR, m - ir);
            if (!trans) {
                for (int r = 0; r < rows; r++) {
                    long src = base + (long) (ir + r) * lda;
                    for (int p = 0, d = sliver + r; p < k; p++, d += MR) dst[d] = a.getAtIndex(F, src + p);
                }
            } else {
                for (int p = 0, d = sliver; p < k; p++, d += MR) {
                    long src = base + (long) p * lda + ir;
                    for (int r = 0; r < rows; r++) dst[d + r] = a.getAtIndex(F, src + r);
                }
            }
            if (rows < MR) for (int p = 0, d = sliver; p < k; p++, d += MR) java.util.Arrays.fill(dst, d + rows, d + MR, 0f);
        }
    }

    /** Packs the k x n matrix whose element (p, j) is {@code b[base + p*ldb + j]} into {@code dst}. */
    static void packB(Width w, MemorySegment b, long base, int ldb, int k, int n, float[] dst) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        for (int jr = 0, sliver = 0; jr < n; jr += nr, sliver += k * nr) {
            int cols = Math.min(nr, n - jr);
            for (int p = 0, d = sliver; p < k; p++, d += nr) {
                long src = base + (long) p * ldb + jr;
                int j = 0;
                for (; j <= cols - l; j += l) FloatVector.fromMemorySegment(s, b, (src + j) * 4, NATIVE).intoArray(dst, d + j);
                for (; j < cols; j++) dst[d + j] = b.getAtIndex(F, src + j);
                for (; j < nr; j++) dst[d + j] = 0;
            }
        }
    }

    /**
     * C (m x n at element {@code cOff} of {@code c}, row stride {@code ldc}) = A.B, or C += A.B when
     * {@code accumulate}; A from {@code ap[aOff..]} and B from {@code bp}, both packed over depth k.
     */
    static void multiply(Width w, int m, int n, int k, float[] ap, int aOff, float[] bp, MemorySegment c, long cOff, int ldc,
                         boolean accumulate, float[] tile) {
        int nr = nr(w);
        int p0 = 0;
        do { // once even when k == 0, so that C is still written
            int kc = Math.min(KC, k - p0);
            boolean add = accumulate || p0 > 0;
            for (int jr = 0; jr < n; jr += nr) {
                int cols = Math.min(nr, n - jr), bi = jr * k + p0 * nr;
                for (int ir = 0; ir < m; ir += MR) {
                    kernel(w, kc, ap, aOff + ir * k + p0 * MR, bp, bi, tile);
                    writeBack(w, tile, c, cOff + (long) ir * ldc + jr, ldc, Math.min(MR, m - ir), cols, add);
                }
            }
            p0 += kc;
        } while (p0 < k);
    }

    /** A 6 x (2 vectors) tile over depth kc in 12 independent accumulators, stored to {@code tile} (row stride nr). */
    private static void kernel(Width w, int kc, float[] a, int ai, float[] b, int bi, float[] tile) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        FloatVector c00 = FloatVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++, ai += MR, bi += nr) {
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

    /** Stores ({@code add}: adds) rows x cols of the tile into C; body and tail round identically. */
    private static void writeBack(Width w, float[] tile, MemorySegment c, long ci, int ldc, int rows, int cols, boolean add) {
        var s = w.floats();
        int l = s.length(), nr = 2 * l;
        for (int r = 0; r < rows; r++) {
            long row = ci + (long) r * ldc;
            int t = r * nr, j = 0;
            for (; j <= cols - l; j += l) {
                long off = (row + j) * 4;
                FloatVector v = FloatVector.fromArray(s, tile, t + j);
                if (add) v = v.add(FloatVector.fromMemorySegment(s, c, off, NATIVE));
                v.intoMemorySegment(c, off, NATIVE);
            }
            for (; j < cols; j++) c.setAtIndex(F, row + j, add ? tile[t + j] + c.getAtIndex(F, row + j) : tile[t + j]);
        }
    }
}
