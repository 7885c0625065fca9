package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.SddmmDesc;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;


/**
 * Sampled dense-dense product ({@link SddmmDesc}): for every stored (row, col) of the mask, the dot product of
 * row {@code row} of A' and row {@code col} of B' over k. Four stored columns of a row are done together, so
 * each chunk of the A row is loaded once for four B rows and four FMA chains run side by side. The
 * transposed-input variant (weight gradient) first transposes A and B once into k-contiguous scratch. Tasks
 * are fixed blocks of mask rows; each value is one task's, so the result is the same for any thread count.
 */
final class Sddmm {
    private Sddmm() {}

    private static final int ROWS = 32;

    static void run(Width w, SddmmDesc d, float[] a, float[] b, int[] rowPtr, int[] colIdx, float[] values) {
        int m = d.m(), n = d.n(), k = d.k();
        float[] ar = d.reduceOverRows() ? transposed(a, k, m) : a, brs = d.reduceOverRows() ? transposed(b, k, n) : b;
        CpuThreads.parallelFor((m + ROWS - 1) / ROWS, t -> {
            for (int r = t * ROWS; r < Math.min(m, (t + 1) * ROWS); r++) row(w, k, ar, brs, r, rowPtr[r], rowPtr[r + 1], colIdx, values);
        });
    }

    /** src (rows x cols, row-major) as cols x rows. */
    private static float[] transposed(float[] src, int rows, int cols) {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
        return out;
    }

    private static void row(Width w, int k, float[] a, float[] b, int r, int e0, int e1, int[] colIdx, float[] values) {
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), aAt = r * k;
        int e = e0;
        for (; e + 4 <= e1; e += 4) {
            int o0 = colIdx[e] * k, o1 = colIdx[e + 1] * k, o2 = colIdx[e + 2] * k, o3 = colIdx[e + 3] * k;
            FloatVector z = FloatVector.zero(s), s0 = z, s1 = z, s2 = z, s3 = z;
            int p = 0;
            for (; p + l <= k; p += l) {
                FloatVector x = FloatVector.fromArray(s, a, aAt + p);
                s0 = FloatVector.fromArray(s, b, o0 + p).fma(x, s0);
                s1 = FloatVector.fromArray(s, b, o1 + p).fma(x, s1);
                s2 = FloatVector.fromArray(s, b, o2 + p).fma(x, s2);
                s3 = FloatVector.fromArray(s, b, o3 + p).fma(x, s3);
            }
            if (p < k) {
                VectorMask<Float> m = s.indexInRange(p, k);
                FloatVector x = FloatVector.fromArray(s, a, aAt + p, m);
                s0 = FloatVector.fromArray(s, b, o0 + p, m).fma(x, s0);
                s1 = FloatVector.fromArray(s, b, o1 + p, m).fma(x, s1);
                s2 = FloatVector.fromArray(s, b, o2 + p, m).fma(x, s2);
                s3 = FloatVector.fromArray(s, b, o3 + p, m).fma(x, s3);
            }
            values[e] = s0.reduceLanes(VectorOperators.ADD);
            values[e + 1] = s1.reduceLanes(VectorOperators.ADD);
            values[e + 2] = s2.reduceLanes(VectorOperators.ADD);
            values[e + 3] = s3.reduceLanes(VectorOperators.ADD);
        }
        for (; e < e1; e++) {
            int o = colIdx[e] * k;
            FloatVector acc = FloatVector.zero(s);
            for (int p = 0; p < k; p += l) {
                VectorMask<Float> m = s.indexInRange(p, k);
                acc = FloatVector.fromArray(s, b, o + p, m).fma(FloatVector.fromArray(s, a, aAt + p, m), acc);
            }
            values[e] = acc.reduceLanes(VectorOperators.ADD);
        }
    }
}
