package dev.kiln.kernels.sparse;

import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Conversions to and from dense, validation of given structures, and SpMM through the facade on the views. */
class SparseFormatsTest {
    private static float[] random(Random r, int n, double zeros) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextDouble() < zeros ? 0f : (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    @Test void csrRoundTripsDenseAndKeepsOnlyAboveThreshold() {
        Random r = new Random(5);
        float[] dense = random(r, 7 * 13, 0.6);
        dense[13] = 0; // row 1 gets zeros only
        for (int c = 13; c < 26; c++) dense[c] = 0;
        CsrMatrix s = CsrMatrix.fromDense(dense, 7, 13, 0f);
        assertArrayEquals(dense, s.toDense());
        assertEquals(s.rowPtr()[1], s.rowPtr()[2], "empty row 1");
        int nz = 0;
        for (float v : dense) if (v != 0) nz++;
        assertEquals(nz, s.nnz());
        CsrMatrix big = CsrMatrix.fromDense(dense, 7, 13, 0.5f);
        float[] back = big.toDense();
        for (int i = 0; i < dense.length; i++) assertEquals(Math.abs(dense[i]) > 0.5f ? dense[i] : 0f, back[i]);
        assertEquals(s, CsrMatrix.of(7, 13, s.rowPtr(), s.colIdx(), s.values()));
    }

    @Test void csrMaskKeepsStoredZeros() {
        float[] dense = {0, 2, 3, 0, 5, 0};
        boolean[] keep = {true, true, false, false, false, true};
        CsrMatrix s = CsrMatrix.fromDense(dense, 2, 3, keep);
        assertEquals(3, s.nnz());
        assertArrayEquals(keep, s.mask());
        assertArrayEquals(new float[] {0, 2, 0, 0, 0, 0}, s.toDense());
        assertArrayEquals(new int[] {0, 2, 3}, s.rowPtr());
        assertArrayEquals(new int[] {0, 1, 2}, s.colIdx());
    }

    @Test void csrRejectsMalformedStructureWithRowAndPosition() {
        float[] v = {1, 2, 3};
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 1}, new int[] {0, 1, 2}, v), "row 1", "must not decrease");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 3}, new int[] {1, 0, 2}, v), "row 0, position 1", "does not ascend");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 3}, new int[] {0, 1, 4}, v), "row 1, position 2", "outside [0, 4)");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 3}, new int[] {0, 1, -1}, v), "position 2", "column index -1");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 5}, new int[] {0, 1, 2}, v), "row 1", "past the 3");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {1, 2, 3}, new int[] {0, 1, 2}, v), "rowPtr[0] must be 0");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2}, new int[] {0, 1, 2}, v), "rowPtr has 2 entries");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 1, 2}, new int[] {0, 1, 2}, v), "rowPtr[2]=2");
        assertMessage(() -> CsrMatrix.of(2, 4, new int[] {0, 2, 3}, new int[] {0, 1, 2}, new float[2]), "values has 2");
        assertMessage(() -> CsrMatrix.fromDense(new float[5], 2, 3, 0f), "dense array has 5");
        assertMessage(() -> CsrMatrix.fromDense(new float[6], 2, 3, Float.NaN), "threshold");
    }

    @Test void bsrRoundTripsAndStoresWholeBlocks() {
        Random r = new Random(7);
        int rows = 6, cols = 8, br = 3, bc = 2;
        float[] dense = random(r, rows * cols, 0);
        boolean[] keep = new boolean[rows * cols];
        keep[0] = true;               // block (0,0)
        keep[4 * cols + 7] = true;    // block (1,3)
        BsrMatrix b = BsrMatrix.fromDense(dense, rows, cols, br, bc, keep);
        assertEquals(2, b.blocks());
        assertArrayEquals(new int[] {0, 1, 2}, b.rowPtr());
        assertArrayEquals(new int[] {0, 3}, b.colIdx());
        float[] back = b.toDense();
        assertEquals(dense[0], back[0]);
        assertEquals(0f, back[1], "not kept inside a stored block: 0");
        assertEquals(dense[4 * cols + 7], back[4 * cols + 7]);
        assertEquals(0f, back[2]);
        boolean[] mask = b.mask();
        assertTrue(mask[1] && mask[2 * cols + 1] && !mask[2]);
        float[] full = random(r, rows * cols, 0.5);
        assertArrayEquals(full, BsrMatrix.fromDense(full, rows, cols, br, bc, 0f).toDense());
        BsrMatrix copy = BsrMatrix.of(rows, cols, br, bc, b.rowPtr(), b.colIdx(), b.values());
        assertEquals(b, copy);
    }

    @Test void bsrRejectsMalformedStructure() {
        assertMessage(() -> BsrMatrix.of(4, 4, 2, 2, new int[] {0, 2, 2}, new int[] {1, 0}, new float[8]), "block row 0, position 1", "does not ascend");
        assertMessage(() -> BsrMatrix.of(4, 4, 2, 2, new int[] {0, 1, 2}, new int[] {0, 2}, new float[8]), "block row 1, position 1", "outside [0, 2)");
        assertMessage(() -> BsrMatrix.of(4, 4, 2, 2, new int[] {0, 1, 2}, new int[] {0, 1}, new float[7]), "values has 7");
        assertMessage(() -> BsrMatrix.of(5, 4, 2, 2, new int[] {0, 0, 0}, new int[0], new float[0]), "not a multiple of the block");
    }

    @Test void twoFourKeepsTheTwoLargestMagnitudesPerGroup() {
        float[] dense = {0.1f, -3, 2, 0.5f, /* ties: earlier columns */ 1, 1, 1, 1, 0, 0, 0, -7, 4, 0, 0, 0};
        TwoFourMatrix t = TwoFourMatrix.fromDense(dense, 2, 8);
        assertArrayEquals(new float[] {-3, 2, 1, 1, 0, -7, 4, 0}, t.values());
        assertArrayEquals(new float[] {0, -3, 2, 0, 1, 1, 0, 0, 0, 0, 0, -7, 4, 0, 0, 0}, t.toDense());
        boolean[] mask = t.mask();
        assertTrue(mask[1] && mask[2] && mask[4] && mask[5] && mask[8] && mask[11] && mask[12] && mask[13]);
        Random r = new Random(3);
        float[] big = random(r, 5 * 12, 0);
        TwoFourMatrix tb = TwoFourMatrix.fromDense(big, 5, 12);
        float[] back = tb.toDense();
        for (int g = 0; g < big.length; g += 4) {
            int kept = 0;
            float minKept = Float.MAX_VALUE, maxDropped = 0;
            for (int j = 0; j < 4; j++) {
                if (back[g + j] != 0) { kept++; assertEquals(big[g + j], back[g + j]); minKept = Math.min(minKept, Math.abs(big[g + j])); }
                else maxDropped = Math.max(maxDropped, Math.abs(big[g + j]));
            }
            assertEquals(2, kept);
            assertTrue(minKept >= maxDropped, "group " + g / 4);
        }
        assertEquals(tb, TwoFourMatrix.of(5, 12, tb.values(), tb.meta()));
    }

    @Test void twoFourMaskPadsAndRejects() {
        float[] dense = {1, 2, 3, 4, 5, 6, 7, 8};
        TwoFourMatrix t = TwoFourMatrix.fromDense(dense, 1, 8, new boolean[] {false, false, false, true, false, false, false, false});
        assertArrayEquals(new float[] {0, 0, 0, 4, 0, 0, 0, 0}, t.toDense());
        assertMessage(() -> TwoFourMatrix.fromDense(dense, 1, 8, new boolean[] {true, true, true, false, false, false, false, false}),
                "row 0, group 0 keeps 3");
        // positions 2 then 1 in row 1, group 0: value 4 of the values array
        byte[] meta = {(byte) (0 | 1 << 2 | 1 << 4 | 3 << 6), (byte) (2 | 1 << 2 | 0 << 4 | 1 << 6)};
        assertMessage(() -> TwoFourMatrix.of(2, 8, new float[8], meta), "row 1, group 0", "value position 4", "2,1 must ascend");
        assertMessage(() -> TwoFourMatrix.of(2, 6, new float[6], new byte[2]), "multiple of 4");
        assertMessage(() -> TwoFourMatrix.of(2, 8, new float[8], new byte[3]), "meta has 3 bytes");
    }

    @Test void spmmThroughTheFacadeOnTheReadOnlyViews() {
        Random r = new Random(11);
        int m = 8, k = 12, n = 5;
        float[] a = random(r, m * k, 0.5), b = random(r, k * n, 0);
        float[] expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * b[p * n + j];
                expected[i * n + j] = (float) s;
            }
        CsrMatrix csr = CsrMatrix.fromDense(a, m, k, 0f);
        BsrMatrix bsr = BsrMatrix.fromDense(a, m, k, 4, 4, 0f);
        for (int f = 0; f < 2; f++) {
            float[] c = new float[m * n];
            java.util.Arrays.fill(c, Float.NaN);
            try (HostBuffer bb = HostBuffer.wrap(b); HostBuffer cb = HostBuffer.wrap(c)) {
                if (f == 0) Kernels.execute(csr.spmmDesc(n), csr.spmmArgs(bb, cb));
                else Kernels.execute(bsr.spmmDesc(n), bsr.spmmArgs(bb, cb));
            }
            for (int i = 0; i < c.length; i++) assertEquals(expected[i], c[i], 1e-5, "format " + f + " element " + i);
        }
        TwoFourMatrix tf = TwoFourMatrix.fromDense(a, m, k);
        float[] pruned = tf.toDense(), c = new float[m * n];
        try (HostBuffer bb = HostBuffer.wrap(b); HostBuffer cb = HostBuffer.wrap(c)) {
            Kernels.execute(tf.spmmDesc(n), tf.spmmArgs(bb, cb));
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) pruned[i * k + p] * b[p * n + j];
                assertEquals(s, c[i * n + j], 1e-5);
            }
        assertThrows(IllegalArgumentException.class, () -> csr.valuesBuffer().hostSegment().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, 1f),
                "views are read-only");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
    }
}
