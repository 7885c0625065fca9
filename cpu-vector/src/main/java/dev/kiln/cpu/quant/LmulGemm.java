package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.ref.RefQGemm;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * L-Mul GEMM ({@link QGemmDesc} LMUL): C[i][j] = sum over p of {@link RefQGemm#lmul}(A[i][p], B[j][p], M),
 * each term computed exactly as the reference defines it, summed in f32 (within the harness tolerance).
 *
 * <p>Each term is integer arithmetic on the bit patterns: the truncated mantissa fields of x and y and the
 * offset 2^-l (in units of 2^-23) are added; a sum s of the fractions at or above 1 carries into the exponent
 * and the field becomes (s - 1) / 2, which is exact since the fields are multiples of 2^(23-M); the biased
 * exponents add less 127. A lane whose input is zero, subnormal, infinite or NaN, or whose result leaves the
 * normal exponent range, takes the scalar reference instead (rare: the whole chunk goes scalar).
 */
final class LmulGemm {
    private LmulGemm() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c) {
        int m = d.m(), n = d.n(), k = d.k(), mb = d.mantissaBits();
        CpuThreads.parallelFor(Math.ceilDiv(m, 4), t -> {
            for (int i = 4 * t; i < Math.min(m, 4 * t + 4); i++)
                for (int j = 0; j < n; j++) c.setAtIndex(F32, (long) i * n + j, dot(w, a, (long) i * k, b, (long) j * k, k, mb));
        });
    }

    private static float dot(Width w, MemorySegment a, long ai, MemorySegment b, long bj, int k, int mb) {
        VectorSpecies<Float> fs = w.floats();
        VectorSpecies<Integer> is = QSpecies.ints(w);
        int l = fs.length(), p = 0;
        int mmask = 0x7FFFFF & -(1 << (23 - mb));
        int l2 = mb <= 3 ? mb : 3; // l(M) of the definition, for M = 3 or 4
        int off = 1 << (23 - l2);
        FloatVector acc = FloatVector.zero(fs);
        for (; p <= k - l; p += l) {
            IntVector x = FloatVector.fromMemorySegment(fs, a, (ai + p) * 4, NATIVE).reinterpretAsInts();
            IntVector y = FloatVector.fromMemorySegment(fs, b, (bj + p) * 4, NATIVE).reinterpretAsInts();
            IntVector ex = x.lanewise(VectorOperators.LSHR, 23).and(0xFF), ey = y.lanewise(VectorOperators.LSHR, 23).and(0xFF);
            IntVector mant = x.and(mmask).add(y.and(mmask)).add(off);
            IntVector carry = mant.lanewise(VectorOperators.LSHR, 23).min(1);
            IntVector field = mant.sub(carry.lanewise(VectorOperators.LSHL, 23)).lanewise(VectorOperators.LSHR, carry);
            IntVector e = ex.add(ey).add(carry).sub(127);
            // special: an input exponent of 0 or 255 (ex - 1 unsigned >= 254), or a result exponent outside [1, 254]
            VectorMask<Integer> special = ex.sub(1).compare(VectorOperators.UGE, 254)
                    .or(ey.sub(1).compare(VectorOperators.UGE, 254))
                    .or(e.sub(1).compare(VectorOperators.UGE, 254));
            if (special.anyTrue()) {
                float[] t = new float[l];
                for (int q = 0; q < l; q++) t[q] = RefQGemm.lmul(a.getAtIndex(F32, ai + p + q), b.getAtIndex(F32, bj + p + q), mb);
                acc = acc.add(FloatVector.fromArray(fs, t, 0));
                continue;
            }
            IntVector bits = x.lanewise(VectorOperators.XOR, y).and(0x80000000).or(e.lanewise(VectorOperators.LSHL, 23)).or(field);
            acc = acc.add(bits.reinterpretAsFloats());
        }
        float sum = Lanes.sum(acc);
        for (; p < k; p++) sum += RefQGemm.lmul(a.getAtIndex(F32, ai + p), b.getAtIndex(F32, bj + p), mb);
        return sum;
    }
}
