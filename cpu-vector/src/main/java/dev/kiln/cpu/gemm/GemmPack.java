package dev.kiln.cpu.gemm;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Packing of f32 GEMM operands into contiguous scratch, which is where every transpose combination is
 * handled: the microkernel only ever sees packed panels. Row-major throughout.
 *
 * <p>Packed A: for each sliver of {@code mr} rows, those rows of {@code kc} values one after the other
 * (k fastest), so that untransposed A packs by bulk copies; the microkernel reads the mr values of one k
 * step at stride kc. Packed B: for each sliver of {@code nr} columns, {@code kc} groups of {@code nr} values.
 * Rows or columns beyond the matrix edge are zero, so the microkernel always computes full tiles.
 */
final class GemmPack {
    private GemmPack() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Packs op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into {@code dst} from element {@code at}. Element (i, p) of op(A) is at
     * {@code a[base + i*lda + p]} untransposed and {@code a[base + p*lda + i]} transposed.
     */
    static void packA(MemorySegment a, long base, int lda, boolean trans, int i0, int mc, int p0, int kc, int mr, float[] dst, int at) {
        if (kc == 0) return; // k == 0: nothing to pack, and a bulk copy would still check its offset against A
        for (int ir = 0, sliver = at; ir < mc; ir += mr, sliver += kc * mr) {
            int rows = Math.min(mr, mc - ir);
            if (!trans) { // rows of A are rows of the sliver: bulk copies
                for (int r = 0; r < rows; r++)
                    MemorySegment.copy(a, F, (base + (long) (i0 + ir + r) * lda + p0) * 4, dst, sliver + r * kc, kc);
            } else {
                for (int p = 0; p < kc; p++) {
                    long src = base + (long) (p0 + p) * lda + i0 + ir;
                    for (int r = 0, d = sliver + p; r < rows; r++, d += kc) dst[d] = a.getAtIndex(F, src + r);
                }
            }
            if (rows < mr) java.util.Arrays.fill(dst, sliver + rows * kc, sliver + mr * kc, 0f);
        }
    }

    /**
     * Packs op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into {@code dst} from element {@code at}. Element (p, j) of op(B) is at
     * {@code b[base + p*ldb + j]} untransposed and {@code b[base + j*ldb + p]} transposed.
     */
    static void packB(Width w, MemorySegment b, long base, int ldb, boolean trans, int p0, int kc, int j0, int nc, int nr,
                      float[] dst, int at) {
        if (!trans) {
            packBRows(w, b, base, ldb, p0, kc, 0, kc, j0, nc, nr, dst, at);
            return;
        }
        for (int jr = 0, sliver = at; jr < nc; jr += nr, sliver += kc * nr) {
            int cols = Math.min(nr, nc - jr);
            for (int j = 0; j < cols; j++) {
                long src = base + (long) (j0 + jr + j) * ldb + p0;
                for (int p = 0, d = sliver + j; p < kc; p++, d += nr) dst[d] = b.getAtIndex(F, src + p);
            }
            if (cols < nr) {
                for (int p = 0, d = sliver; p < kc; p++, d += nr) java.util.Arrays.fill(dst, d + cols, d + nr, 0f);
            }
        }
    }

    /**
     * Packs rows [pFrom, pTo) of the kc-row panel of untransposed B that starts at row {@code p0}, columns
     * [j0 .. j0+nc), in {@link #packB}'s layout of the whole panel (sliver jr from {@code at + jr * kc}), so that
     * threads can share one panel's packing by rows. Row by row: one sequential stream through B, where packing
     * sliver by sliver read nr values from every row at stride ldb, which ran at half the speed (0.9 against
     * 0.5 ms for the two operands of a 1024^3 SGEMM, whose microkernels take 9.3 ms).
     */
    static void packBRows(Width w, MemorySegment b, long base, int ldb, int p0, int kc, int pFrom, int pTo, int j0, int nc,
                          int nr, float[] dst, int at) {
        var s = w.floats();
        int l = s.length();
        for (int p = pFrom; p < pTo; p++) {
            long src = base + (long) (p0 + p) * ldb + j0;
            int jr = 0;
            for (; jr <= nc - nr; jr += nr) {
                int d = at + jr * kc + p * nr;
                for (int j = 0; j < nr; j += l) FloatVector.fromMemorySegment(s, b, (src + jr + j) * 4, NATIVE).intoArray(dst, d + j);
            }
            if (jr < nc) { // the last, partial sliver: zero beyond the matrix edge
                int d = at + jr * kc + p * nr, cols = nc - jr, j = 0;
                for (; j <= cols - l; j += l) FloatVector.fromMemorySegment(s, b, (src + jr + j) * 4, NATIVE).intoArray(dst, d + j);
                for (; j < cols; j++) dst[d + j] = b.getAtIndex(F, src + jr + j);
                java.util.Arrays.fill(dst, d + cols, d + nr, 0f);
            }
        }
    }
}
