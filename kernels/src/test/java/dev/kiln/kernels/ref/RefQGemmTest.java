package dev.kiln.kernels.ref;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Low-bit GEMM: s8/u8 exactly against a long triple loop, b1 against the dot product of +-1 vectors, s4
 * against an f32 GEMM on dequantised weights, and L-Mul against values worked by hand.
 */
class RefQGemmTest {
    private static final int[][] SIZES = {{3, 5, 7}, {1, 1, 1}, {4, 9, 33}, {2, 3, 64}};

    private static byte[] bytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        b[0] = Byte.MIN_VALUE;   // the extremes, always
        if (n > 1) b[n - 1] = Byte.MAX_VALUE;
        return b;
    }

    @Test void s8AndU8AreExact() {
        Random r = seeded(81);
        for (int[] s : SIZES) {
            int m = s[0], n = s[1], k = s[2];
            for (boolean unsigned : new boolean[] {false, true}) {
                byte[] a = bytes(r, m * k), b = bytes(r, n * k);
                float[] sa = rand(r, m, 0.01, 0.1), sb = rand(r, n, 0.01, 0.1);
                QGemmDesc d = unsigned ? QGemmDesc.u8s8(m, n, k, DType.S32) : QGemmDesc.s8(m, n, k, DType.S32);
                int[] c = run(d, Arg.A, a, Arg.B, b).i(Arg.C);
                QGemmDesc df = unsigned ? QGemmDesc.u8s8(m, n, k, DType.F32) : QGemmDesc.s8(m, n, k, DType.F32);
                float[] cf = run(df, Arg.A, a, Arg.B, b, Arg.SRC_SCALES, sa, Arg.SCALES, sb).f(Arg.C);
                int[] want = new int[m * n];
                double[] wantF = new double[m * n];
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        long acc = 0;
                        for (int p = 0; p < k; p++) acc += (long) (unsigned ? a[i * k + p] & 0xFF : a[i * k + p]) * b[j * k + p];
                        want[i * n + j] = Math.toIntExact(acc);
                        wantF[i * n + j] = acc * (double) sa[i] * sb[j];
                    }
                assertArrayEquals(want, c, d.opName() + " " + d.shape());
                close(wantF, cf, 1e-6, df.opName() + " " + df.shape());
            }
        }
    }

    @Test void s8OutputIsRequantisedWithPerChannelMultipliers() {
        byte[] a = {10, -20, 30}, b = {1, 2, 3, -4, -5, -6};          // acc: 60 and -120
        float[] sa = {0.5f}, sb = {0.25f, 4f};                         // 60 * 0.125 = 7.5 -> 8 (even); -120 * 2 = -240 -> -128
        QGemmDesc d = QGemmDesc.s8(1, 2, 3, DType.S8);
        HostBuffer c = HostBuffer.allocate(null, DType.S8, 2);
        dev.kiln.kernels.Kernels.execute(d, dev.kiln.kernels.Args.of(Arg.A, HostBuffer.wrap(a, DType.S8), Arg.B, HostBuffer.wrap(b, DType.S8),
                Arg.SRC_SCALES, HostBuffer.wrap(sa), Arg.SCALES, HostBuffer.wrap(sb)).put(Arg.C, c));
        assertArrayEquals(new byte[] {8, -128}, c.hostSegment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        assertEquals(6, RefQGemm.requantised(6.5));
        assertEquals(127, RefQGemm.requantised(1e9));
        c.close();
    }

    @Test void s8AtTheAccumulatorLimit() {
        int k = 131071;
        byte[] a = new byte[k], b = new byte[k];
        java.util.Arrays.fill(a, Byte.MIN_VALUE);
        java.util.Arrays.fill(b, Byte.MIN_VALUE);
        int[] c = run(QGemmDesc.s8(1, 1, k, DType.S32), Arg.A, a, Arg.B, b).i(Arg.C);
        assertEquals(131071L * 16384, c[0]);
    }

    @Test void binaryIsTheDotOfPlusMinusOneVectorsIgnoringPadding() {
        Random r = seeded(82);
        for (int[] s : SIZES) {
            int m = s[0], n = s[1], k = s[2], rb = (k + 7) / 8;
            byte[] a = new byte[m * rb], b = new byte[n * rb];
            r.nextBytes(a);   // padding bits random too: they must be ignored
            r.nextBytes(b);
            float[] sa = rand(r, m, 0.5, 2), sb = rand(r, n, 0.5, 2);
            int[] c = run(QGemmDesc.binary(m, n, k, DType.S32), Arg.A, a, Arg.B, b).i(Arg.C);
            float[] cf = run(QGemmDesc.binary(m, n, k, DType.F32), Arg.A, a, Arg.B, b, Arg.SRC_SCALES, sa, Arg.SCALES, sb).f(Arg.C);
            int[] want = new int[m * n];
            double[] wantF = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    int dot = 0;
                    for (int p = 0; p < k; p++) dot += pm(a, i * rb * 8 + p) * pm(b, j * rb * 8 + p);
                    want[i * n + j] = dot;
                    wantF[i * n + j] = dot * (double) sa[i] * sb[j];
                }
            assertArrayEquals(want, c, "b1 " + m + "x" + n + "x" + k);
            close(wantF, cf, 1e-6, "b1 f32");
        }
    }

    /** Bit {@code i} as +1 or -1. */
    private static int pm(byte[] bits, int i) { return ((bits[i / 8] >> (i % 8)) & 1) == 1 ? 1 : -1; }

    @Test void s4MatchesDequantisedGemm() {
        Random r = seeded(83);
        for (int[] s : new int[][] {{3, 5, 8, 4}, {2, 7, 12, 12}, {1, 3, 6, 2}, {5, 2, 64, 32}}) {
            int m = s[0], n = s[1], k = s[2], gs = s[3];
            float[] a = rand(r, m * k), scales = rand(r, n * (k / gs), 0.01, 0.2);
            int[] w = new int[n * k];
            byte[] packed = new byte[n * k / 2];
            for (int e = 0; e < n * k; e++) {
                w[e] = r.nextInt(16) - 8;
                packed[e / 2] |= (byte) ((w[e] & 0xF) << (4 * (e % 2)));
            }
            w[0] = -8;   // the extreme nibble 0x8
            packed[0] = (byte) ((packed[0] & 0xF0) | 0x8);
            float[] c = run(QGemmDesc.s4(m, n, k, gs), Arg.A, a, Arg.B, packed, Arg.SCALES, scales).f(Arg.C);
            double[] want = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    for (int p = 0; p < k; p++) want[i * n + j] += (double) a[i * k + p] * (scales[j * (k / gs) + p / gs] * w[j * k + p]);
            close(want, c, 1e-5, "s4 " + m + "x" + n + "x" + k + " group " + gs);
            nonTrivial(c, "s4");
        }
    }

    @Test void lmulHandWorkedValues() {
        // 1.5 = 1.1b: xm = ym = 0.5, l(3) = 3: 1 + 0.5 + 0.5 + 0.125.
        assertEquals(2.125f, RefQGemm.lmul(1.5f, 1.5f, 3));
        assertEquals(1.125f, RefQGemm.lmul(1f, 1f, 3));
        assertEquals(1.125f, RefQGemm.lmul(1f, 1f, 4), "l(4) = 3");
        assertEquals(1.25f, RefQGemm.lmul(1f, 1f, 2), "l(2) = 2");
    }

    @Test void lmulMoreHandWorkedValues() {
        // -2 = -1.0 * 2^1, 3 = 1.5 * 2^1: -(1 + 0 + 0.5 + 0.125) * 4.
        assertEquals(-6.5f, RefQGemm.lmul(-2f, 3f, 3));
        assertEquals(6.5f, RefQGemm.lmul(-2f, -3f, 3));
        // 1.9375 = 1.1111b truncates to 1.111b with M = 3: 1 + 0.875 + 0 + 0.125.
        assertEquals(2f, RefQGemm.lmul(1.9375f, 1f, 3));
        // M = 4 keeps it: 1 + 0.9375 + 0 + 2^-3.
        assertEquals(2.0625f, RefQGemm.lmul(1.9375f, 1f, 4));
        // 1.75 * 1.75 with M = 4: 1 + 0.75 + 0.75 + 0.125 (the exact product is 3.0625).
        assertEquals(2.625f, RefQGemm.lmul(1.75f, 1.75f, 4));
        // Exponents add: 0.375 = 1.5 * 2^-2, 12 = 1.5 * 2^3: 2.125 * 2.
        assertEquals(4.25f, RefQGemm.lmul(0.375f, 12f, 3));
    }

    @Test void lmulSpecialValues() {
        assertEquals(0f, RefQGemm.lmul(0f, 5f, 3));
        assertEquals(-0f, RefQGemm.lmul(-0f, 5f, 3));
        assertEquals(-0f, RefQGemm.lmul(Float.MIN_VALUE, -1e30f, 3), "subnormal input gives a signed zero");
        assertEquals(Float.POSITIVE_INFINITY, RefQGemm.lmul(Float.POSITIVE_INFINITY, 2f, 3));
        assertEquals(Float.NEGATIVE_INFINITY, RefQGemm.lmul(Float.POSITIVE_INFINITY, -2f, 4));
        assertTrue(Float.isNaN(RefQGemm.lmul(Float.POSITIVE_INFINITY, 0f, 3)));
        assertTrue(Float.isNaN(RefQGemm.lmul(Float.NaN, 1f, 3)));
        assertEquals(Float.POSITIVE_INFINITY, RefQGemm.lmul(1e30f, 1e30f, 3), "overflow rounds to infinity like a product");
        assertThrows(IllegalArgumentException.class, () -> RefQGemm.lmul(1f, 1f, 0));
    }

    @Test void lmulIsCloseToTheProduct() {
        Random r = seeded(84);
        for (int i = 0; i < 1000; i++) {
            float x = (float) ((r.nextDouble() * 2 - 1) * Math.pow(2, r.nextInt(20) - 10)), y = (r.nextFloat() * 2 - 1) * 8;
            if (x == 0 || y == 0) continue;
            float l = RefQGemm.lmul(x, y, 4);
            assertEquals(Math.signum(x * y), Math.signum(l));
            assertTrue(Math.abs(l / (x * y) - 1) < 0.3, "lmul(" + x + "," + y + ") = " + l + " vs " + x * y);
        }
    }

    @Test void lmulGemmSumsLmulProducts() {
        Random r = seeded(85);
        int m = 3, n = 4, k = 11;
        for (int bits : new int[] {3, 4}) {
            float[] a = rand(r, m * k, -4, 4), b = rand(r, n * k, -4, 4);
            a[0] = 0;   // zero gives zero
            float[] c = run(QGemmDesc.lmul(m, n, k, bits), Arg.A, a, Arg.B, b).f(Arg.C);
            double[] want = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    for (int p = 0; p < k; p++) want[i * n + j] += RefQGemm.lmul(a[i * k + p], b[j * k + p], bits);
            close(want, c, 1e-6, "lmul gemm M=" + bits);
            nonTrivial(c, "lmul gemm");
        }
    }
}
