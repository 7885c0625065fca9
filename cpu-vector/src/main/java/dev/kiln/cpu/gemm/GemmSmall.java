package dev.kiln.cpu.gemm;

import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.VectorActivation;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The direct path for small f32 GEMMs, where packing costs more than it saves: an 8x8x8 GEMM spent most
 * of its ~600 ns packing A and B and writing back through the tile (measured with JFR, 2026-11-23); this
 * path reads the operands where they are, on the calling thread, with no scratch.
 *
 * <p>B untransposed: <b>axpy</b> form, a row of C at a time in vector chunks along n, each chunk summed
 * over p in order (C(i, j..) += A(i, p) * B(p, j..)). B transposed: <b>dot</b> form, C(i, j) = row i of
 * op(A) dotted with row j of B (both contiguous along k when A is untransposed; a transposed A row is
 * gathered first), lanes summed in a fixed order ({@link Lanes#sum}). Tails use masked vectors, so there is
 * no scalar path. One thread, fixed order: the same result on every run and for any thread count.
 */
final class GemmSmall {
    private GemmSmall() {}

    /**
     * Largest m*n*k taken here: at 32^3 the packed path is within 10% of this one on Zen 5 and pulls ahead
     * above it (it also spreads over threads); small enough that a row of op(A) fits the gather buffer.
     */
    static final long MAX_WORK = 32L * 32 * 32;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    static boolean applies(GemmDesc d) {
        return (long) d.m() * d.n() * d.k() <= MAX_WORK && d.k() <= 4096;
    }

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[4096]);

    static void run(Width w, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment bias) {
        boolean ta = d.transA() == Transpose.T, tb = d.transB() == Transpose.T;
        float alpha = (float) d.alpha(), beta = (float) d.beta();
        for (int batch = 0; batch < d.batch(); batch++) {
            long baseA = batch * d.strideA(), baseB = batch * d.strideB(), baseC = batch * d.strideC();
            for (int i = 0; i < d.m(); i++) {
                long rowC = baseC + (long) i * d.ldc();
                if (tb) dotRow(w, d, a, baseA, ta, i, b, baseB, c, rowC, alpha, beta);
                else axpyRow(w, d, a, baseA, ta, i, b, baseB, c, rowC, alpha, beta);
                if (d.bias() || d.activation() != Activation.NONE)
                    VectorActivation.row(w, c, rowC, d.n(), bias, 0, d.activation());
            }
        }
    }

    /** Row i of C from B untransposed: chunks of n, each summed over p in order. */
    private static void axpyRow(Width w, GemmDesc d, MemorySegment a, long baseA, boolean ta, int i, MemorySegment b, long baseB,
                                MemorySegment c, long rowC, float alpha, float beta) {
        VectorSpecies<Float> s = w.floats();
        int n = d.n(), k = d.k(), l = s.length();
        long stepA = ta ? d.lda() : 1, offA = baseA + (ta ? i : (long) i * d.lda());
        for (int j = 0; j < n; j += l) {
            VectorMask<Float> m = s.indexInRange(j, n);
            FloatVector acc = FloatVector.zero(s);
            for (int p = 0; p < k; p++) {
                FloatVector av = FloatVector.broadcast(s, a.getAtIndex(F, offA + p * stepA));
                acc = FloatVector.fromMemorySegment(s, b, (baseB + (long) p * d.ldb() + j) * 4, NATIVE, m).fma(av, acc);
            }
            store(w, c, rowC + j, acc, m, alpha, beta);
        }
    }

    /** Row i of C from B transposed: C(i, j) = op(A) row i . B row j. */
    private static void dotRow(Width w, GemmDesc d, MemorySegment a, long baseA, boolean ta, int i, MemorySegment b, long baseB,
                               MemorySegment c, long rowC, float alpha, float beta) {
        VectorSpecies<Float> s = w.floats();
        int n = d.n(), k = d.k(), l = s.length();
        float[] row = ROW.get();
        long offA = baseA + (ta ? i : (long) i * d.lda()), stepA = ta ? d.lda() : 1;
        for (int p = 0; p < k; p++) row[p] = a.getAtIndex(F, offA + p * stepA);
        for (int j = 0; j < n; j++) {
            long offB = (baseB + (long) j * d.ldb()) * 4;
            FloatVector acc = FloatVector.zero(s);
            for (int p = 0; p < k; p += l) {
                VectorMask<Float> m = s.indexInRange(p, k);
                acc = FloatVector.fromMemorySegment(s, b, offB + 4L * p, NATIVE, m).fma(FloatVector.fromArray(s, row, p, m), acc);
            }
            float dot = Lanes.sum(acc);
            long at = rowC + j;
            c.setAtIndex(F, at, beta == 0 ? alpha * dot : alpha * dot + beta * c.getAtIndex(F, at));
        }
    }

    /** C chunk = alpha * acc (+ beta * C; C is not read when beta == 0). */
    private static void store(Width w, MemorySegment c, long at, FloatVector acc, VectorMask<Float> m, float alpha, float beta) {
        VectorSpecies<Float> s = w.floats(); // from the width, not a parameter: see Width
        FloatVector out = acc.mul(alpha);
        if (beta != 0) out = FloatVector.fromMemorySegment(s, c, at * 4, NATIVE, m).fma(FloatVector.broadcast(s, beta), out);
        out.intoMemorySegment(c, at * 4, NATIVE, m);
    }
}
