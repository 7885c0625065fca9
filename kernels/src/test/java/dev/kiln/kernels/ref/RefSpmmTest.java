package dev.kiln.kernels.ref;

import dev.kiln.kernels.Blas;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.SpmmDesc;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;

/** Each sparse format against the same matrix made dense and multiplied by the reference GEMM. */
class RefSpmmTest {
    private static float[] dense(Random r, int m, int k, double density) {
        float[] a = new float[m * k];
        for (int i = 0; i < a.length; i++) if (r.nextDouble() < density) a[i] = r.nextFloat() * 2 - 1;
        return a;
    }

    private static float[] gemm(float[] a, float[] b, int m, int n, int k) {
        float[] c = new float[m * n];
        Blas.sgemm(m, n, k, a, b, c);
        return c;
    }

    @Test void csrMatchesDense() {
        Random r = seeded(71);
        for (int[] s : new int[][] {{7, 5, 13}, {1, 3, 1}, {17, 1, 9}, {6, 4, 4}}) {
            int m = s[0], n = s[1], k = s[2];
            float[] a = dense(r, m, k, 0.35);
            for (int j = 0; j < k; j++) a[j] = 0;   // an empty first row
            if (m > 1) a[k] = 0.75f;               // ... and a second row that is not
            int[] rowPtr = new int[m + 1];
            List<Integer> cols = new ArrayList<>();
            List<Float> vals = new ArrayList<>();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < k; j++) if (a[i * k + j] != 0) { cols.add(j); vals.add(a[i * k + j]); }
                rowPtr[i + 1] = cols.size();
            }
            float[] b = rand(r, k * n);
            float[] c = run(SpmmDesc.csr(m, n, k, cols.size()), Arg.ROW_PTR, rowPtr,
                    Arg.COL_IDX, cols.stream().mapToInt(Integer::intValue).toArray(), Arg.VALUES, floats(vals), Arg.B, b).f(Arg.C);
            close(gemm(a, b, m, n, k), c, 1e-6, "csr " + m + "x" + n + "x" + k);
        }
    }

    @Test void csrWithNoValuesGivesZeros() {
        float[] c = run(SpmmDesc.csr(3, 2, 4, 0), Arg.ROW_PTR, new int[4], Arg.COL_IDX, new int[0], Arg.VALUES, new float[0],
                Arg.B, rand(new Random(1), 8)).f(Arg.C);
        close(new float[6], c, 0, "empty csr");
    }

    @Test void bsrMatchesDense() {
        Random r = seeded(72);
        for (int[] s : new int[][] {{6, 5, 9, 2, 3}, {8, 3, 8, 4, 1}, {3, 7, 4, 1, 4}}) {
            int m = s[0], n = s[1], k = s[2], br = s[3], bc = s[4];
            float[] a = new float[m * k];
            int[] rowPtr = new int[m / br + 1];
            List<Integer> cols = new ArrayList<>();
            List<Float> vals = new ArrayList<>();
            for (int bi = 0; bi < m / br; bi++) {
                for (int bj = 0; bj < k / bc; bj++) {
                    if (r.nextDouble() < 0.5) continue;
                    cols.add(bj);
                    for (int i = 0; i < br; i++)
                        for (int j = 0; j < bc; j++) {
                            float v = r.nextFloat() * 2 - 1;
                            vals.add(v);
                            a[(bi * br + i) * k + bj * bc + j] = v;
                        }
                }
                rowPtr[bi + 1] = cols.size();
            }
            float[] b = rand(r, k * n);
            float[] c = run(SpmmDesc.bsr(m, n, k, cols.size(), br, bc), Arg.ROW_PTR, rowPtr,
                    Arg.COL_IDX, cols.stream().mapToInt(Integer::intValue).toArray(), Arg.VALUES, floats(vals), Arg.B, b).f(Arg.C);
            float[] want = gemm(a, b, m, n, k);
            close(want, c, 1e-6, "bsr " + m + "x" + n + "x" + k + " block " + br + "x" + bc);
            if (!cols.isEmpty()) nonTrivial(c, "bsr");
        }
    }

    @Test void twoFourMatchesDense() {
        Random r = seeded(73);
        for (int[] s : new int[][] {{5, 3, 12}, {1, 1, 4}, {9, 6, 8}}) {
            int m = s[0], n = s[1], k = s[2], half = m * k / 2;
            float[] a = new float[m * k], vals = new float[half];
            byte[] meta = new byte[(half + 3) / 4];
            int e = 0;
            for (int i = 0; i < m; i++)
                for (int g = 0; g < k / 4; g++) {
                    int p0 = r.nextInt(4), p1 = r.nextInt(3);
                    if (p1 >= p0) p1++;
                    int lo = Math.min(p0, p1), hi = Math.max(p0, p1);
                    for (int pos : new int[] {lo, hi}) {
                        float v = r.nextFloat() * 2 - 1;
                        vals[e] = v;
                        a[i * k + g * 4 + pos] = v;
                        meta[e / 4] |= (byte) (pos << (2 * (e % 4)));
                        e++;
                    }
                }
            float[] b = rand(r, k * n);
            float[] c = run(SpmmDesc.twoFour(m, n, k), Arg.VALUES, vals, Arg.META, meta, Arg.B, b).f(Arg.C);
            close(gemm(a, b, m, n, k), c, 1e-6, "2:4 " + m + "x" + n + "x" + k);
            nonTrivial(c, "2:4");
        }
    }

    private static float[] floats(List<Float> list) {
        float[] f = new float[list.size()];
        for (int i = 0; i < f.length; i++) f[i] = list.get(i);
        return f;
    }
}
