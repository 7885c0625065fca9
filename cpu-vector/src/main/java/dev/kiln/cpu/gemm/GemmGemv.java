package dev.kiln.cpu.gemm;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.VectorActivation;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * f32 GEMV: a {@link GemmDesc} with {@code n == 1} (y = op(A) x) or {@code m == 1} (y = x op(B)), which
 * is memory-bound, so the matrix is read exactly once, straight from C's source, with no packing.
 *
 * <p>Two forms, by which dimension of the matrix is contiguous: <b>dot</b> form (the k dimension is
 * contiguous: A untransposed with n == 1, B transposed with m == 1) dots four matrix rows at a time with
 * the vector x, one accumulator per row; <b>axpy</b> form (the output dimension is contiguous) adds
 * x[p]-weighted matrix rows into a strip of outputs held in scratch. x is first gathered into contiguous
 * scratch (it may be a strided column). Work is cut into fixed chunks of outputs, one task each, by a rule
 * that ignores the thread count, so results are bit-identical for any number of threads. Accumulation is
 * in f32 (FMA); alpha and beta are applied in the store, C is not read when beta == 0, then bias and
 * activation.
 */
final class GemmGemv {
    private GemmGemv() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /**
     * Outputs per task in dot form (a multiple of 4): each task gathers x (k scalar loads), so a task needs
     * many rows to amortise that; 64 cost 25% at 1024 x 1024, 256 leaves a few percent.
     */
    static final int DOT_CHUNK = 256;
    /** Outputs per task in axpy form: a 2 KB strip of each matrix row, accumulators stay in L1. */
    static final int AXPY_CHUNK = 512;

    private static final class Scratch {
        float[] x = new float[0], acc = new float[AXPY_CHUNK];

        float[] x(int k) {
            if (x.length < k) x = new float[k];
            return x;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** True for the shapes this class runs: f32 with n == 1 or m == 1. */
    static boolean applies(GemmDesc d) {
        return d.n() == 1 || d.m() == 1;
    }

    /** Geometry of one GEMV: out[o] = sum_p M(o, p) x[p], with the element strides of each operand. */
    private record Geo(int outs, int k, boolean dot, long mBase, long ld, boolean mIsA, long xBase, long incx,
                       long cBase, long incc) {}

    static void run(Width w, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment bias) {
        boolean ta = d.transA() == Transpose.T, tb = d.transB() == Transpose.T;
        Geo g;
        if (d.n() == 1) // M = op(A) (m x k), x = column 0 of op(B), out = column 0 of C
            g = new Geo(d.m(), d.k(), !ta, 0, d.lda(), true, 0, tb ? 1 : d.ldb(), 0, d.ldc());
        else // m == 1: M = op(B)^T (n x k), x = row 0 of op(A), out = row 0 of C
            g = new Geo(d.n(), d.k(), tb, 0, d.ldb(), false, 0, ta ? d.lda() : 1, 0, 1);
        int chunk = g.dot() ? DOT_CHUNK : AXPY_CHUNK;
        int chunks = Math.ceilDiv(g.outs(), chunk);
        CpuThreads.parallelFor(Math.multiplyExact(d.batch(), chunks), t -> {
            int batch = t / chunks, o0 = (t % chunks) * chunk, len = Math.min(chunk, g.outs() - o0);
            MemorySegment mat = g.mIsA() ? a : b, xs = g.mIsA() ? b : a;
            long mBase = batch * (g.mIsA() ? d.strideA() : d.strideB());
            long xBase = batch * (g.mIsA() ? d.strideB() : d.strideA());
            long cBase = batch * d.strideC() + o0 * g.incc();
            Scratch s = SCRATCH.get();
            float[] x = s.x(g.k());
            for (int p = 0; p < g.k(); p++) x[p] = xs.getAtIndex(F, xBase + p * g.incx());
            float[] acc = s.acc;
            if (g.dot()) dot(w, mat, mBase + o0 * g.ld(), g.ld(), len, g.k(), x, acc);
            else axpy(w, mat, mBase + o0, g.ld(), len, g.k(), x, acc);
            store(w, d, acc, len, c, cBase, g.incc(), bias, o0);
        });
    }

    /** acc[r] = row r of M (at {@code base + r*ld}, k contiguous floats) dotted with x, for r < rows. */
    private static void dot(Width w, MemorySegment m, long base, long ld, int rows, int k, float[] x, float[] acc) {
        var s = w.floats();
        int l = s.length(), r = 0;
        // four rows, one vector each per step: from DRAM a step that touches more cache lines reads slower, not
        // faster (4096^2, 1 thread, one JVM, calls alternating, each kernel its own matrix: 2, 3 or 4 rows of one
        // vector 0.98-1.08x OpenBLAS, 5 rows 0.86, 8 rows 0.88-0.91, 4 rows of two vectors 0.79-0.84; the same
        // with -XX:LoopUnrollLimit=1, so it is the lines per step, not C2's unrolling; at 256 bits, where eight rows
        // are four lines, four and eight rows read the same within the noise)
        for (; r <= rows - 4; r += 4) {
            long o0 = (base + r * ld) * 4, st = ld * 4;
            FloatVector s0 = FloatVector.zero(s), s1 = s0, s2 = s0, s3 = s0;
            int p = 0;
            for (; p <= k - l; p += l) {
                FloatVector xv = FloatVector.fromArray(s, x, p);
                long off = o0 + (long) p * 4;
                s0 = FloatVector.fromMemorySegment(s, m, off, NATIVE).fma(xv, s0);
                s1 = FloatVector.fromMemorySegment(s, m, off + st, NATIVE).fma(xv, s1);
                s2 = FloatVector.fromMemorySegment(s, m, off + 2 * st, NATIVE).fma(xv, s2);
                s3 = FloatVector.fromMemorySegment(s, m, off + 3 * st, NATIVE).fma(xv, s3);
            }
            long row = o0 / 4;
            acc[r] = tail(m, row, x, p, k, Lanes.sum(s0));
            acc[r + 1] = tail(m, row + ld, x, p, k, Lanes.sum(s1));
            acc[r + 2] = tail(m, row + 2 * ld, x, p, k, Lanes.sum(s2));
            acc[r + 3] = tail(m, row + 3 * ld, x, p, k, Lanes.sum(s3));
        }
        for (; r < rows; r++) { // at most 3 rows, only at the end of the matrix: four accumulators over k
            long o = (base + r * ld) * 4;
            FloatVector s0 = FloatVector.zero(s), s1 = s0, s2 = s0, s3 = s0;
            int p = 0;
            for (; p <= k - 4 * l; p += 4 * l) {
                long off = o + (long) p * 4;
                s0 = FloatVector.fromMemorySegment(s, m, off, NATIVE).fma(FloatVector.fromArray(s, x, p), s0);
                s1 = FloatVector.fromMemorySegment(s, m, off + 4L * l, NATIVE).fma(FloatVector.fromArray(s, x, p + l), s1);
                s2 = FloatVector.fromMemorySegment(s, m, off + 8L * l, NATIVE).fma(FloatVector.fromArray(s, x, p + 2 * l), s2);
                s3 = FloatVector.fromMemorySegment(s, m, off + 12L * l, NATIVE).fma(FloatVector.fromArray(s, x, p + 3 * l), s3);
            }
            for (; p <= k - l; p += l)
                s0 = FloatVector.fromMemorySegment(s, m, o + (long) p * 4, NATIVE).fma(FloatVector.fromArray(s, x, p), s0);
            acc[r] = tail(m, o / 4, x, p, k, Lanes.sum(s0.add(s1).add(s2.add(s3))));
        }
    }

    /** sum + the scalar products of row {@code row} and x over [p, k). */
    private static float tail(MemorySegment m, long row, float[] x, int p, int k, float sum) {
        for (; p < k; p++) sum = Math.fma(m.getAtIndex(F, row + p), x[p], sum);
        return sum;
    }

    /**
     * acc[j] = sum_p x[p] M[base + p*ld + j] for j < len, p in order (four rows of M per pass over the
     * strip), so the vector body and the scalar column tail perform the same FMAs in the same order.
     */
    private static void axpy(Width w, MemorySegment m, long base, long ld, int len, int k, float[] x, float[] acc) {
        var s = w.floats();
        int l = s.length();
        java.util.Arrays.fill(acc, 0, len, 0f);
        int p = 0;
        for (; p <= k - 4; p += 4) {
            long r0 = base + p * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
            float x0 = x[p], x1 = x[p + 1], x2 = x[p + 2], x3 = x[p + 3];
            FloatVector v0 = FloatVector.broadcast(s, x0), v1 = FloatVector.broadcast(s, x1);
            FloatVector v2 = FloatVector.broadcast(s, x2), v3 = FloatVector.broadcast(s, x3);
            int j = 0;
            for (; j <= len - l; j += l) {
                FloatVector v = FloatVector.fromArray(s, acc, j);
                v = FloatVector.fromMemorySegment(s, m, (r0 + j) * 4, NATIVE).fma(v0, v);
                v = FloatVector.fromMemorySegment(s, m, (r1 + j) * 4, NATIVE).fma(v1, v);
                v = FloatVector.fromMemorySegment(s, m, (r2 + j) * 4, NATIVE).fma(v2, v);
                v = FloatVector.fromMemorySegment(s, m, (r3 + j) * 4, NATIVE).fma(v3, v);
                v.intoArray(acc, j);
            }
            for (; j < len; j++) {
                float v = acc[j];
                v = Math.fma(m.getAtIndex(F, r0 + j), x0, v);
                v = Math.fma(m.getAtIndex(F, r1 + j), x1, v);
                v = Math.fma(m.getAtIndex(F, r2 + j), x2, v);
                acc[j] = Math.fma(m.getAtIndex(F, r3 + j), x3, v);
            }
        }
        for (; p < k; p++) {
            long r0 = base + p * ld;
            FloatVector v0 = FloatVector.broadcast(s, x[p]);
            int j = 0;
            for (; j <= len - l; j += l)
                FloatVector.fromMemorySegment(s, m, (r0 + j) * 4, NATIVE).fma(v0, FloatVector.fromArray(s, acc, j)).intoArray(acc, j);
            for (; j < len; j++) acc[j] = Math.fma(m.getAtIndex(F, r0 + j), x[p], acc[j]);
        }
    }

    /** C[o] = alpha*acc[o] + beta*C[o] (C not read when beta == 0), then bias and activation. */
    private static void store(Width w, GemmDesc d, float[] acc, int len, MemorySegment c, long cBase, long incc,
                              MemorySegment bias, int o0) {
        float alpha = (float) d.alpha(), beta = (float) d.beta();
        for (int o = 0; o < len; o++) {
            long ci = cBase + o * incc;
            float v = beta == 0 ? acc[o] * alpha : Math.fma(c.getAtIndex(F, ci), beta, acc[o] * alpha);
            c.setAtIndex(F, ci, v);
        }
        if (!d.bias() && d.activation() == Activation.NONE) return;
        if (d.n() == 1) { // one element per row of C; the bias has n == 1 entry
            for (int o = 0; o < len; o++) VectorActivation.row(w, c, cBase + o * incc, 1, bias, 0, d.activation());
        } else {
            VectorActivation.row(w, c, cBase, len, bias, o0, d.activation());
        }
    }
}
