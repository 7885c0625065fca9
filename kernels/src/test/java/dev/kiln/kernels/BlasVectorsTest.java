package dev.kiln.kernels;

import dev.kiln.kernels.desc.Transpose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link Blas}'s level-1 calls and GEMV on arrays and segments (here on the reference engine: kernels has no
 * dispatch): results against plain loops in double at offsets and increments 1-3, elements off the stride
 * positions untouched (NaN before, same bits after), n == 0, alpha == 0; and every bad argument rejected
 * before anything is written, with a message naming the op, the operand and the numbers.
 */
class BlasVectorsTest {
    private static final Random R = new Random(4242);

    private static float[] rand(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = R.nextFloat() * 2 - 1;
        return v;
    }

    /** Random at the stride positions from {@code off}, NaN everywhere else. */
    private static float[] strided(int length, int off, int n, int inc) {
        float[] v = new float[length];
        Arrays.fill(v, Float.NaN);
        for (int i = 0; i < n; i++) v[off + i * inc] = R.nextFloat() * 2 - 1;
        return v;
    }

    private static void assertOnlyStridesChanged(float[] before, float[] after, int off, int n, int inc) {
        for (int i = 0; i < before.length; i++) {
            boolean onStride = i >= off && (i - off) % inc == 0 && (i - off) / inc < n;
            if (!onStride) assertEquals(Float.floatToRawIntBits(before[i]), Float.floatToRawIntBits(after[i]), "element " + i + " off the strides was written");
        }
    }

    @Test void dotAxpyScalMatchPlainLoops() {
        for (int n : new int[] {0, 1, 7, 33, 257}) {
            for (int[] inc : new int[][] {{1, 1}, {2, 3}, {3, 1}}) {
                int offX = 3, offY = 1, lx = offX + Math.max(0, (n - 1) * inc[0] + 1) + 2, ly = offY + Math.max(0, (n - 1) * inc[1] + 1) + 2;
                float[] x = strided(lx, offX, n, inc[0]), y = strided(ly, offY, n, inc[1]);
                double want = 0;
                for (int i = 0; i < n; i++) want += (double) x[offX + i * inc[0]] * y[offY + i * inc[1]];
                float[] x0 = x.clone(), y0 = y.clone();
                assertEquals(want, Blas.sdot(n, x, offX, inc[0], y, offY, inc[1]), 1e-5 * Math.max(1, n), "sdot n=" + n);
                assertArrayEquals(x0, x);
                assertArrayEquals(y0, y);

                Blas.saxpy(n, -1.5f, x, offX, inc[0], y, offY, inc[1]);
                for (int i = 0; i < n; i++)
                    assertEquals(-1.5 * x0[offX + i * inc[0]] + y0[offY + i * inc[1]], y[offY + i * inc[1]], 1e-6, "saxpy element " + i);
                assertOnlyStridesChanged(y0, y, offY, n, inc[1]);
                assertArrayEquals(x0, x, "saxpy wrote x");

                float[] y1 = y.clone();
                Blas.saxpy(n, 0f, new float[lx], offX, inc[0], y, offY, inc[1]); // alpha 0: untouched
                assertArrayEquals(y1, y);

                Blas.sscal(n, 0.5f, x, offX, inc[0]);
                for (int i = 0; i < n; i++) assertEquals(0.5f * x0[offX + i * inc[0]], x[offX + i * inc[0]]);
                assertOnlyStridesChanged(x0, x, offX, n, inc[0]);
            }
        }
    }

    @Test void doubleVariantsAndSegments() {
        int n = 33;
        double[] x = new double[2 * n + 1], y = new double[3 * n];
        for (int i = 0; i < x.length; i++) x[i] = R.nextDouble() - 0.5;
        for (int i = 0; i < y.length; i++) y[i] = R.nextDouble() - 0.5;
        double want = 0;
        for (int i = 0; i < n; i++) want += x[1 + 2 * i] * y[3 * i];
        assertEquals(want, Blas.ddot(n, x, 1, 2, y, 0, 3), 1e-13);
        double[] y0 = y.clone();
        Blas.daxpy(n, 2.0, x, 1, 2, y, 0, 3);
        for (int i = 0; i < n; i++) assertEquals(2.0 * x[1 + 2 * i] + y0[3 * i], y[3 * i], 1e-15);
        Blas.dscal(n, -3.0, y, 0, 3);
        for (int i = 0; i < n; i++) assertEquals(-3.0 * (2.0 * x[1 + 2 * i] + y0[3 * i]), y[3 * i], 1e-14);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sx = arena.allocate(ValueLayout.JAVA_FLOAT, 2L * n), sy = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            float[] fx = rand(2 * n), fy = rand(n);
            MemorySegment.copy(fx, 0, sx, ValueLayout.JAVA_FLOAT, 0, fx.length);
            MemorySegment.copy(fy, 0, sy, ValueLayout.JAVA_FLOAT, 0, fy.length);
            double w = 0;
            for (int i = 0; i < n; i++) w += (double) fx[2 * i] * fy[i];
            assertEquals(w, Blas.sdot(n, sx, 2, sy, 1), 1e-5);
            Blas.saxpy(n, 1f, sx, 2, sy, 1);
            Blas.sscal(n, 2f, sy, 1);
            for (int i = 0; i < n; i++) assertEquals(2 * (fx[2 * i] + fy[i]), sy.getAtIndex(ValueLayout.JAVA_FLOAT, i), 1e-6);
            MemorySegment dx = arena.allocate(ValueLayout.JAVA_DOUBLE, n);
            for (int i = 0; i < n; i++) dx.setAtIndex(ValueLayout.JAVA_DOUBLE, i, i);
            assertEquals((n - 1) * n * (2.0 * n - 1) / 6, Blas.ddot(n, dx, 1, dx, 1)); // x . x: inputs may alias
            Blas.daxpy(n, 1, dx, 1, arena.allocate(ValueLayout.JAVA_DOUBLE, n), 1);
            Blas.dscal(n, 2, dx, 1);
            assertEquals(2.0 * (n - 1), dx.getAtIndex(ValueLayout.JAVA_DOUBLE, n - 1));
        }
    }

    @Test void gemvBothOrientationsWithIncrements() {
        int m = 13, n = 7, lda = 9, offA = 2;
        float[] a = rand(offA + (m - 1) * lda + n);
        for (boolean t : new boolean[] {false, true}) {
            int lenX = t ? m : n, lenY = t ? n : m, incx = 2, incy = 3;
            float[] x = strided(1 + (lenX - 1) * incx + 1, 1, lenX, incx), y = strided((lenY - 1) * incy + 1, 0, lenY, incy);
            float[] y0 = y.clone();
            Blas.sgemv(t ? Transpose.T : Transpose.N, m, n, 0.5f, a, offA, lda, x, 1, incx, -1f, y, 0, incy);
            for (int r = 0; r < lenY; r++) {
                double acc = 0;
                for (int c = 0; c < lenX; c++) {
                    float av = t ? a[offA + c * lda + r] : a[offA + r * lda + c];
                    acc += (double) av * x[1 + c * incx];
                }
                assertEquals(0.5 * acc - y0[r * incy], y[r * incy], 1e-5, (t ? "T" : "N") + " row " + r);
            }
            assertOnlyStridesChanged(y0, y, 0, lenY, incy);
            float[] nan = new float[(lenY - 1) * incy + 1];
            Arrays.fill(nan, Float.NaN);
            Blas.sgemv(t ? Transpose.T : Transpose.N, m, n, 1f, a, offA, lda, x, 1, incx, 0f, nan, 0, incy); // beta 0: y not read
            for (int r = 0; r < lenY; r++) assertFalse(Float.isNaN(nan[r * incy]), "beta 0 read y at " + r);
        }
        double[] da = new double[m * n], dx = new double[n], dy = new double[m];
        Arrays.fill(da, 1);
        Arrays.fill(dx, 2);
        Blas.dgemv(Transpose.N, m, n, 1, da, 0, n, dx, 0, 1, 0, dy, 0, 1);
        for (double v : dy) assertEquals(2.0 * n, v);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocate(ValueLayout.JAVA_FLOAT, (long) m * n), sx = arena.allocate(ValueLayout.JAVA_FLOAT, m),
                    sy = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            for (int i = 0; i < m * n; i++) sa.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % n);
            for (int i = 0; i < m; i++) sx.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1);
            Blas.sgemv(Transpose.T, m, n, 1f, sa, n, sx, 1, 0f, sy, 1); // column sums: m * column index
            for (int c = 0; c < n; c++) assertEquals((float) m * c, sy.getAtIndex(ValueLayout.JAVA_FLOAT, c));
        }
    }

    private static void rejects(Executable call, float[] out, String... fragments) {
        float[] before = out.clone();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        assertArrayEquals(before, out, "written by a rejected call");
    }

    @Test void badArgumentsAreRejectedBeforeAnyWrite() {
        float[] x = rand(10), y = rand(10);
        rejects(() -> Blas.saxpy(5, 2f, x, 2, 2, y, 0, 1), y, "saxpy", "x has 8 elements after offset 2, needs 9", "n=5", "incx=2");
        rejects(() -> Blas.saxpy(5, 2f, x, 0, 1, y, 4, 2), y, "saxpy", "y has 6 elements after offset 4, needs 9", "incy=2");
        rejects(() -> Blas.saxpy(3, 2f, x, 0, -1, y, 0, 1), y, "saxpy", "incx must be >= 1", "got -1");
        rejects(() -> Blas.saxpy(3, 2f, x, 0, 1, y, 0, 0), y, "saxpy", "incy must be >= 1", "got 0");
        rejects(() -> Blas.saxpy(-1, 2f, x, 0, 1, y, 0, 1), y, "saxpy", "n must be >= 0", "got -1");
        rejects(() -> Blas.saxpy(3, 2f, null, 0, 1, y, 0, 1), y, "saxpy", "x is null");
        rejects(() -> Blas.saxpy(3, 2f, x, 11, 1, y, 0, 1), y, "saxpy", "offset of x is 11", "length 10");
        rejects(() -> Blas.saxpy(3, Float.NaN, x, 0, 1, y, 0, 1), y, "saxpy", "alpha must be finite");
        rejects(() -> Blas.saxpy(3, 2f, y, 0, 1, y, 2, 1), y, "saxpy", "overlaps"); // y = a*y' + y on one array
        rejects(() -> Blas.sscal(5, 2f, x, 0, 3), x, "sscal", "x has 10 elements after offset 0, needs 13", "(n-1)*incx+1");
        rejects(() -> Blas.sdot(4, x, 0, 3, y, 0, 4), y, "sdot", "y has 10 elements after offset 0, needs 13", "incy=4");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sx = arena.allocate(ValueLayout.JAVA_FLOAT, 4), sy = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            sy.fill((byte) 7);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blas.saxpy(3, 1f, sx, 2, sy, 1));
            assertTrue(e.getMessage().contains("saxpy: x has 4 f32 elements, needs 5"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Blas.ddot(1, arena.allocate(7), 1, sy, 1));
            assertTrue(e.getMessage().contains("ddot: x has 7 bytes, not a whole number of f64 elements"), e.getMessage());
            for (int i = 0; i < 16; i++) assertEquals(7, sy.get(ValueLayout.JAVA_BYTE, i));
        }
        double[] dy = new double[4];
        assertThrows(IllegalArgumentException.class, () -> Blas.daxpy(5, 1, new double[5], 0, 1, dy, 0, 1));
        float[] a = rand(20), gy = rand(4);
        rejects(() -> Blas.sgemv(Transpose.N, 4, 5, 1f, a, 0, 4, x, 0, 1, 0f, gy, 0, 1), gy, "sgemv", "lda = 4 must be >= max(1, n) = 5");
        rejects(() -> Blas.sgemv(Transpose.N, 4, 5, 1f, a, 1, 5, x, 0, 1, 0f, gy, 0, 1), gy, "sgemv", "A has 19 elements after offset 1, needs 20");
        rejects(() -> Blas.sgemv(Transpose.N, 4, 5, 1f, a, 0, 5, x, 0, 3, 0f, gy, 0, 1), gy, "sgemv", "x has 10 elements after offset 0, needs 13", "n=5");
        rejects(() -> Blas.sgemv(Transpose.T, 4, 5, 1f, a, 0, 5, x, 0, 1, 0f, gy, 0, 1), gy, "sgemv", "y has 4 elements after offset 0, needs 5", "n=5");
        rejects(() -> Blas.sgemv(Transpose.N, 4, 5, 1f, a, 0, 5, x, 0, 1, 0f, gy, 0, -2), gy, "sgemv", "incy must be >= 1", "got -2");
        rejects(() -> Blas.sgemv(null, 4, 5, 1f, a, 0, 5, x, 0, 1, 0f, gy, 0, 1), gy, "sgemv", "trans is null");
    }

    @Test void emptyVectors() {
        float[] x = {Float.NaN}, y = {Float.NaN};
        assertEquals(0f, Blas.sdot(0, x, 0, 1, y, 0, 1));
        assertEquals(0.0, Blas.ddot(0, new double[0], 0, 1, new double[0], 0, 1));
        Blas.saxpy(0, 1f, x, 1, 1, y, 1, 1);
        Blas.sscal(0, 1f, x, 1, 5);
        assertTrue(Float.isNaN(x[0]) && Float.isNaN(y[0]));
    }
}
