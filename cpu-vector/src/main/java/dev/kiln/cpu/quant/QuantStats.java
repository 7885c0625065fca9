package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.ref.RefQuantize;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scales (and zero points) a {@link QuantizeDesc} computes: each scale group's min and max (exact in
 * any order, so these match the reference bit for bit) and, for b1, its sum of |x| in double (the order
 * is fixed by the task split, not the thread count), turned into scales by {@link RefQuantize}'s own
 * formulas. Contiguous runs are reduced with vectors; per-channel scales on the last axis go element by
 * element.
 */
final class QuantStats {
    private QuantStats() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final int CHUNK = 1 << 14;

    static void compute(Width w, QuantizeDesc d, MemorySegment src, float[] scales, int[] zeros) {
        int n = scales.length;
        float[] lo = new float[n], hi = new float[n];
        double[] sum = new double[n];
        boolean sums = d.qtype() == DType.B1;
        long count = d.count();
        switch (d.granularity()) {
            case TENSOR -> {
                int tasks = Math.toIntExact(Math.ceilDiv(count, CHUNK));
                float[] plo = new float[tasks], phi = new float[tasks];
                double[] psum = new double[tasks];
                CpuThreads.parallelFor(tasks, t -> {
                    long from = (long) t * CHUNK;
                    reduce(w, src, from, (int) Math.min(CHUNK, count - from), sums, plo, phi, psum, t);
                });
                for (int t = 0; t < tasks; t++) { lo[0] = Math.min(lo[0], plo[t]); hi[0] = Math.max(hi[0], phi[t]); sum[0] += psum[t]; }
            }
            case GROUP -> {
                int gs = d.groupSize(), perTask = Math.max(1, CHUNK / gs);
                CpuThreads.parallelFor(Math.ceilDiv(n, perTask), t -> {
                    for (int g = t * perTask; g < Math.min(n, (t + 1) * perTask); g++) reduce(w, src, (long) g * gs, gs, sums, lo, hi, sum, g);
                });
            }
            case CHANNEL -> {
                long inner = d.inner(), outer = count / inner / n;
                if (inner == 1) {
                    for (long i = 0; i < count; i++) {
                        int c = (int) (i % n);
                        float x = src.getAtIndex(F, i);
                        lo[c] = Math.min(lo[c], x);
                        hi[c] = Math.max(hi[c], x);
                        sum[c] += Math.abs(x);
                    }
                } else {
                    CpuThreads.parallelFor(n, c -> {
                        float[] l1 = new float[1], h1 = new float[1];
                        double[] s1 = new double[1];
                        for (long o = 0; o < outer; o++) {
                            reduce(w, src, (o * n + c) * inner, (int) inner, sums, l1, h1, s1, 0);
                            lo[c] = Math.min(lo[c], l1[0]);
                            hi[c] = Math.max(hi[c], h1[0]);
                            sum[c] += s1[0];
                        }
                    });
                }
            }
        }
        long perScale = count / n;
        for (int g = 0; g < n; g++) {
            if (d.qtype() == DType.B1) scales[g] = RefQuantize.meanScale(sum[g], perScale);
            else if (d.symmetric()) scales[g] = RefQuantize.symmetricScale(Math.max(-lo[g], hi[g]), d.qmax());
            else {
                scales[g] = RefQuantize.asymmetricScale(lo[g], hi[g], d.qmin(), d.qmax());
                zeros[g] = RefQuantize.zeroPoint(lo[g], scales[g], d.qmin(), d.qmax());
            }
        }
    }

    /** min(0, x...), max(0, x...) and (when {@code sums}) the double sum of |x| over src[from, from+len) into slot {@code at}. */
    private static void reduce(Width w, MemorySegment src, long from, int len, boolean sums, float[] lo, float[] hi, double[] sum, int at) {
        var fs = w.floats();
        var ds = w.doubles();
        int l = fs.length(), i = 0;
        FloatVector vlo = FloatVector.zero(fs), vhi = FloatVector.zero(fs);
        DoubleVector s0 = DoubleVector.zero(ds), s1 = DoubleVector.zero(ds);
        // two loops, not one with an "if (sums)": a vector assigned in a branch is merged and boxed
        if (sums) {
            for (; i <= len - l; i += l) {
                FloatVector x = FloatVector.fromMemorySegment(fs, src, (from + i) * 4, NATIVE);
                vlo = vlo.min(x);
                vhi = vhi.max(x);
                FloatVector a = x.abs();
                s0 = s0.add((DoubleVector) a.convertShape(VectorOperators.F2D, ds, 0));
                s1 = s1.add((DoubleVector) a.convertShape(VectorOperators.F2D, ds, 1));
            }
        } else {
            for (; i <= len - l; i += l) {
                FloatVector x = FloatVector.fromMemorySegment(fs, src, (from + i) * 4, NATIVE);
                vlo = vlo.min(x);
                vhi = vhi.max(x);
            }
        }
        float mn = Math.min(0f, vlo.reduceLanes(VectorOperators.MIN)), mx = Math.max(0f, vhi.reduceLanes(VectorOperators.MAX));
        double s = sums ? s0.add(s1).reduceLanes(VectorOperators.ADD) : 0;
        for (; i < len; i++) {
            float x = src.getAtIndex(F, from + i);
            mn = Math.min(mn, x);
            mx = Math.max(mx, x);
            s += Math.abs(x);
        }
        lo[at] = mn;
        hi[at] = mx;
        sum[at] = s;
    }
}
