package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Seeded GEMM operands in [-1, 1) on the host (A m x k, B k x n, row-major, tight), and the checks of a
 * result C against them. Tolerances: f32 accumulation of k products errs by at most about
 * k·u·Σ|a||b| (u = 2^-24); twice that is allowed, which any blocking order meets and a wrong or missing
 * element does not.
 */
record GemmOperands(GemmBench.Shape shape, float[] a, float[] b, long seed) {

    static GemmOperands random(GemmBench.Shape s, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ (((long) s.m() * 31 + s.n()) * 31 + s.k()));
        float[] a = new float[s.m() * s.k()], b = new float[s.k() * s.n()];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextDouble() * 2 - 1);
        return new GemmOperands(s, a, b, seed);
    }

    private static final double U = Math.ulp(1f) / 2;

    /** "ok", or where C differs from A·B: Freivalds-style, C·x against A·(B·x) in double, O(mk + kn + mn). */
    String check(float[] c) {
        int m = shape.m(), n = shape.n(), k = shape.k();
        SplittableRandom r = new SplittableRandom(seed + 1);
        double[] x = new double[n], bx = new double[k], bxAbs = new double[k];
        for (int j = 0; j < n; j++) x[j] = r.nextDouble() * 2 - 1;
        for (int p = 0; p < k; p++) {
            double s = 0, sa = 0;
            for (int j = 0; j < n; j++) {
                s += b[p * n + j] * x[j];
                sa += Math.abs(b[p * n + j] * x[j]);
            }
            bx[p] = s;
            bxAbs[p] = sa;
        }
        for (int i = 0; i < m; i++) {
            double want = 0, bound = 0, got = 0;
            for (int p = 0; p < k; p++) {
                want += a[i * k + p] * bx[p];
                bound += Math.abs(a[i * k + p]) * bxAbs[p];
            }
            for (int j = 0; j < n; j++) got += c[i * n + j] * x[j];
            double tol = 2 * (k + 2) * U * bound + Double.MIN_NORMAL;
            if (!(Math.abs(got - want) <= tol))
                return String.format(Locale.ROOT, "WRONG row %d: C·x=%.6g, A·(B·x)=%.6g, tolerance %.3g", i, got, want, tol);
        }
        return "ok";
    }

    /** "ok", or the first element where C differs from the reference GEMM (dev.kiln.kernels.ref); O(mnk). */
    String checkReference(float[] c) {
        int m = shape.m(), n = shape.n(), k = shape.k();
        float[] want = new float[m * n];
        RefKernels.run(GemmDesc.of(m, n, k), Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(want)));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double bound = 0;
                for (int p = 0; p < k; p++) bound += Math.abs(a[i * k + p] * b[p * n + j]);
                double tol = 2 * (k + 2) * U * bound + Double.MIN_NORMAL;
                float got = c[i * n + j];
                if (!(Math.abs(got - want[i * n + j]) <= tol))
                    return String.format(Locale.ROOT, "WRONG C[%d,%d]=%.8g, reference %.8g, tolerance %.3g", i, j, got, want[i * n + j], tol);
            }
        }
        return "ok";
    }
}
