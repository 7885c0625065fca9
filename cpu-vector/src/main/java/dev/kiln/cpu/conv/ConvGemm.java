package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The single-threaded packed f32 GEMM the convolution passes run inside their own tasks (the parallelism is
 * over images, groups and column blocks, one level up, so this never calls the thread pool). Row-major.
 *
 * <p>Packed A ({@code m x k}): for each sliver of {@link #MR} rows (starting at {@code i * k * MR}), each
 * chunk of depth {@link #KC} holds its MR rows one after the other, the layout the GEMM's own microkernels
 * ({@link GemmMicro#kernel}, and {@link GemmMicro#kernelWide} at 16 lanes, as the GEMM chooses) read. Packed B
 * ({@code k x n}): for each sliver of {@link #nr} columns (2 vectors, 4 at 16 lanes), k groups of nr values;
 * sliver {@code j} starts at {@code j * k * nr}. Rows and columns
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

    /** Sliver width: 4 vectors at 16 lanes (the 6 x 4-vector kernel needs AVX-512's 32 registers), else 2. */
    static int nr(Width w) {
        int l = w.floats().length();
        return (l >= 16 ? 4 : 2) * l;
    }

    /** Floats a packed A of m x k takes. */
    static int packedA(int m, int k) { return Math.ceilDiv(m, MR) * MR * k; }

    /** Floats a packed B of k x n takes at width {@code nr}. */
    static int packedB(int k, int n, int nr) { return Math.ceilDiv(n, nr) * nr * k; }

    /**
     * Packs the m x k matrix whose element (i, p) is {@code a[base + i*lda + p]} ({@code trans}: {@code
     * a[base + p*lda + i]}) into {@code dst} from {@code dstOff}, in the layout {@link GemmMicro#kernel} reads.
     */
    static void packA(MemorySegment a, long base, int lda, boolean trans, int m, int k, float[] dst, int dstOff) {
        packA(a, base, lda, trans, m, k, KC, dst, dstOff);
    }

    /** As {@link #packA(MemorySegment, long, int, boolean, int, int, float[], int)} with depth chunks of {@code kcMax}. */
    static void packA(MemorySegment a, long base, int lda, boolean trans, int m, int k, int kcMax, float[] dst, int dstOff) {
        long step = trans ? lda : 1;
        for (int ir = 0, sliver = dstOff; ir < m; ir += MR, sliver += k * MR) {
            int rows = Math.min(MR, m - ir);
            for (int p0 = 0; p0 < k; p0 += kcMax) {
                int kc = Math.min(kcMax, k - p0), chunk = sliver + p0 * MR;
                for (int r = 0; r < MR; r++) {
                    int d = chunk + r * kc;
                    if (r >= rows) {
                        java.util.Arrays.fill(dst, d, d + kc, 0f);
                        continue;
                    }
                    long first = base + (long) (ir + r) * (trans ? 1 : lda) + p0 * step;
                    if (!trans) MemorySegment.copy(a, F, first * 4, dst, d, kc);
                    else for (int p = 0; p < kc; p++) dst[d + p] = a.getAtIndex(F, first + p * step);
                }
            }
        }
    }

    /** Packs the k x n matrix whose element (p, j) is {@code b[base + p*ldb + j]} into {@code dst}. */
    static void packB(Width w, MemorySegment b, long base, int ldb, int k, int n, float[] dst) {
        var s = w.floats();
        int l = s.length(), nr = nr(w);
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
     * As {@link #packB(Width, MemorySegment, long, int, int, int, float[])} from an array (the im2col buffer):
     * no heap segment goes through the vector loads, whose compiled code the GEMM driver shares, reading off-heap
     * operands (see {@link NativeSegments}).
     */
    static void packB(Width w, float[] b, int base, int ldb, int k, int n, float[] dst) {
        var s = w.floats();
        int l = s.length(), nr = nr(w);
        for (int jr = 0, sliver = 0; jr < n; jr += nr, sliver += k * nr) {
            int cols = Math.min(nr, n - jr);
            for (int p = 0, d = sliver; p < k; p++, d += nr) {
                int src = base + p * ldb + jr, j = 0;
                for (; j <= cols - l; j += l) FloatVector.fromArray(s, b, src + j).intoArray(dst, d + j);
                for (; j < cols; j++) dst[d + j] = b[src + j];
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
        multiply(w, nr(w), m, n, k, ap, aOff, bp, c, cOff, ldc, accumulate, tile);
    }

    /** Sliver width of the 6 x 2-vector kernel, for products whose B is packed by the caller at that width. */
    static int narrowNr(Width w) { return 2 * w.floats().length(); }

    /** As {@link #multiply(Width, int, int, int, float[], int, float[], MemorySegment, long, int, boolean, float[])} with B packed at {@code nr} ({@link #nr} or {@link #narrowNr}). */
    static void multiply(Width w, int nr, int m, int n, int k, float[] ap, int aOff, float[] bp, MemorySegment c, long cOff, int ldc,
                         boolean accumulate, float[] tile) {
        boolean wide = nr == 4 * w.floats().length();
        int p0 = 0;
        do { // once even when k == 0, so that C is still written
            int kc = Math.min(KC, k - p0);
            boolean add = accumulate || p0 > 0;
            for (int jr = 0; jr < n; jr += nr) {
                int cols = Math.min(nr, n - jr), bi = jr * k + p0 * nr;
                for (int ir = 0; ir < m; ir += MR) {
                    if (wide) GemmMicro.kernelWide(w, kc, ap, aOff + ir * k + p0 * MR, bp, bi, tile);
                    else GemmMicro.kernel(w, kc, ap, aOff + ir * k + p0 * MR, bp, bi, tile);
                    writeBack(w, nr, tile, c, cOff + (long) ir * ldc + jr, ldc, Math.min(MR, m - ir), cols, add);
                }
            }
            p0 += kc;
        } while (p0 < k);
    }

    /** Stores ({@code add}: adds) rows x cols of the tile (row stride nr) into C; body and tail round identically. */
    static void writeBack(Width w, int nr, float[] tile, MemorySegment c, long ci, int ldc, int rows, int cols, boolean add) {
        var s = w.floats();
        int l = s.length();
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
