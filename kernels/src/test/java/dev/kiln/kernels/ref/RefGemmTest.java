package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The reference GEMM against element formulas written here: every transpose pair with padded leading
 * dimensions, batches, beta (and beta = 0 never reading a NaN-filled C), the bias + activation epilogue, f64.
 */
class RefGemmTest {
    private static double element(float[] x, Transpose t, int ld, int row, int col, long off) {
        return t == Transpose.N ? x[(int) (off + (long) row * ld + col)] : x[(int) (off + (long) col * ld + row)];
    }

    @Test void everyTransposeWithPaddedLeadingDimensionsAndBatches() {
        Random r = seeded(101);
        int m = 5, n = 7, k = 3, batch = 3;
        for (Transpose ta : Transpose.values())
            for (Transpose tb : Transpose.values())
                for (double beta : new double[] {0, 0.75}) {
                    int lda = (ta == Transpose.N ? k : m) + 2, ldb = (tb == Transpose.N ? n : k) + 1, ldc = n + 3;
                    long sa = (long) (ta == Transpose.N ? m : k) * lda + 1, sb = (long) (tb == Transpose.N ? k : n) * ldb, sc = (long) m * ldc + 2;
                    GemmDesc d = new GemmDesc(DType.F32, ta, tb, m, n, k, lda, ldb, ldc, 1.25, beta, batch, sa, sb, sc, true, Activation.TANH);
                    float[] a = rand(r, (int) (sa * batch)), b = rand(r, (int) (sb * batch)), bias = rand(r, n);
                    float[] c = rand(r, (int) (sc * batch));
                    if (beta == 0) Arrays.fill(c, Float.NaN);   // beta = 0: C is write-only, NaNs must vanish
                    float[] c0 = c.clone();
                    float[] out = c.clone();
                    RefKernels.run(d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(out))
                            .put(Arg.BIAS, HostBuffer.wrap(bias)));
                    for (int p = 0; p < batch; p++)
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < ldc; j++) {
                                int at = (int) (p * sc + (long) i * ldc + j);
                                if (j >= n) { assertEquals(Float.floatToIntBits(c0[at]), Float.floatToIntBits(out[at]), "padding of C touched"); continue; }
                                double acc = 0;
                                for (int q = 0; q < k; q++) acc += element(a, ta, lda, i, q, p * sa) * element(b, tb, ldb, q, j, p * sb);
                                double want = Math.tanh(1.25 * acc + (beta == 0 ? 0 : beta * c0[at]) + bias[j]);
                                assertEquals(want, out[at], 1e-6, ta + "" + tb + " beta=" + beta + " batch " + p + " (" + i + "," + j + ")");
                            }
                }
    }

    @Test void f64AndEmptyK() {
        Random r = seeded(102);
        int m = 4, n = 3, k = 6;
        double[] a = r.doubles(m * k, -1, 1).toArray(), b = r.doubles(k * n, -1, 1).toArray(), c = new double[m * n];
        RefKernels.run(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, m, n, k, 1, 0),
                Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(c)));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                assertEquals(s, c[i * n + j], 1e-14);
            }
        // k = 0: C = beta * C.
        float[] cf = {1, 2, 3, 4};
        RefKernels.run(GemmDesc.of(DType.F32, Transpose.N, Transpose.N, 2, 2, 0, 1, 0.5),
                Args.of(Arg.A, HostBuffer.wrap(new float[0]), Arg.B, HostBuffer.wrap(new float[0]), Arg.C, HostBuffer.wrap(cf)));
        close(new float[] {0.5f, 1, 1.5f, 2}, cf, 0, "k=0");
    }
}
