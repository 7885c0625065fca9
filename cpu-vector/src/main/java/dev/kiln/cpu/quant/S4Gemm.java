package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.Transpose;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Grouped s4 GEMM ({@link QGemmDesc} S4): A f32 m x k, B n x k signed nibbles (element j*k + p, low nibble
 * first) with one f32 scale per group of k, C f32. Accumulates in f32 (the reference sums in double; the
 * harness tolerance covers f32 accumulation).
 *
 * <p>Two paths. Small m ({@link #SMALL_M} or fewer rows, the GEMV case): each B row is decoded once into a
 * scratch row of f32 (nibble x group scale) and dotted with every A row; the decode is vectorised when the
 * width has a byte species of one byte per f32 lane (256 and 512 bits) and groups cover whole chunks of
 * {@code 2 * lanes}: one byte per lane is widened to s32, its low and high nibbles sign-extended with two
 * shifts each, so a chunk is stored even elements first, then odd ones, and A rows are packed the same way.
 * For m = 1 with every chunk full, the decoded values go straight into FMAs ({@link #fusedRow}), not a row:
 * per chunk of 2 x lanes weights one load, a widening, two shifts, two conversions, a multiply and two FMAs, one B
 * row per pass.
 * Larger m: B is decoded once to f32 n x k and the f32 GEMM runs with B transposed, amortising the decode.
 */
final class S4Gemm {
    private S4Gemm() {}

    static final int SMALL_M = 8;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private static final class Scratch {
        float[] a = new float[0], row = new float[0], b = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment scales, MemorySegment c) {
        int m = d.m(), n = d.n(), k = d.k(), g = d.groupSize();
        if (m > SMALL_M) {
            Scratch s = SCRATCH.get();
            if (s.b.length < (long) n * k) s.b = new float[Math.multiplyExact(n, k)];
            float[] bf = s.b;
            CpuThreads.parallelFor(Math.ceilDiv(n, 64), t -> {
                for (int j = t * 64; j < Math.min(n, t * 64 + 64); j++) decodeNatural(b, scales, j, k, g, bf, j * k);
            });
            GemmDesc gd = GemmDesc.of(DType.F32, Transpose.N, Transpose.T, m, n, k, 1, 0);
            VectorGemm.run(w, gd, a, MemorySegment.ofArray(bf), c, null);
            return;
        }
        int chunk = 2 * w.floats().length();
        boolean vector = QSpecies.quarterBytes(w) != null && g % chunk == 0;
        int full = vector ? k / chunk * chunk : 0; // elements [0, full) are stored deinterleaved per chunk
        Scratch s = SCRATCH.get();
        if (s.a.length < (long) m * k) s.a = new float[m * k];
        float[] pa = s.a;
        boolean fused = m == 1 && vector && full == k; // GEMV: decode and multiply in registers, no scratch row
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                int q = p < full ? deinterleaved(p, chunk) : p;
                float v = a.getAtIndex(F32, (long) i * k + p);
                pa[i * k + q] = fused && q % chunk < chunk / 2 ? v * LOW : v; // fusedRow's even half: pre-scaled
            }
        }
        if (fused) {
            CpuThreads.parallelFor(Math.ceilDiv(n, 64), t -> {
                for (int j = t * 64; j < Math.min(n, t * 64 + 64); j++) c.setAtIndex(F32, j, fusedRow(w, b, scales, j, k, g, pa));
            });
            return;
        }
        CpuThreads.parallelFor(Math.ceilDiv(n, 64), t -> {
            Scratch own = SCRATCH.get();
            if (own.row.length < k) own.row = new float[k];
            float[] row = own.row;
            for (int j = t * 64; j < Math.min(n, t * 64 + 64); j++) {
                if (vector) decodeVector(w, b, scales, j, k, g, full, row);
                else decodeNatural(b, scales, j, k, g, row, 0);
                for (int i = 0; i < m; i++) c.setAtIndex(F32, (long) i * n + j, dot(w, pa, i * k, row, k));
            }
        });
    }

    /** Where element p of a full chunk goes: even elements first, then odd ones. */
    private static int deinterleaved(int p, int chunk) {
        int base = p / chunk * chunk, r = p - base;
        return base + ((r & 1) == 0 ? r >> 1 : chunk / 2 + (r >> 1));
    }

    private static int nibble(MemorySegment b, long e) {
        int v = b.get(ValueLayout.JAVA_BYTE, e >> 1);
        int nib = (e & 1) == 0 ? v & 0xF : (v >> 4) & 0xF;
        return nib >= 8 ? nib - 16 : nib;
    }

    /** Row j of B as f32 (nibble x its group's scale) in natural order at dst[off]. */
    private static void decodeNatural(MemorySegment b, MemorySegment scales, int j, int k, int g, float[] dst, int off) {
        long e = (long) j * k, groups = k / g;
        for (int p = 0; p < k; p++) dst[off + p] = nibble(b, e + p) * scales.getAtIndex(F32, j * groups + p / g);
    }

    /** Row j of B as f32, full chunks deinterleaved ({@link #deinterleaved}), the rest in natural order. */
    private static void decodeVector(Width w, MemorySegment b, MemorySegment scales, int j, int k, int g, int full, float[] row) {
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), chunk = 2 * l;
        long e = (long) j * k, groups = k / g;
        assert e % 2 == 0 : "k is even, so every row starts on a byte";
        for (int p = 0; p < full; p += chunk) {
            IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e + p) >> 1, NATIVE)
                    .convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
            float scale = scales.getAtIndex(F32, j * groups + p / g);
            FloatVector even = (FloatVector) x.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28)
                    .convert(VectorOperators.I2F, 0);
            FloatVector odd = (FloatVector) x.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 28)
                    .convert(VectorOperators.I2F, 0);
            even.mul(scale).intoArray(row, p);
            odd.mul(scale).intoArray(row, p + l);
        }
        for (int p = full; p < k; p++) row[p] = nibble(b, e + p) * scales.getAtIndex(F32, j * groups + p / g);
    }

    /**
     * The fused loop decodes the low nibble as x << 28 (its value times 2^28, exact in f32) and the high one as x >> 4 (x
     * is the sign-extended byte): one shift each instead of two. The even half of each A chunk is stored times this
     * exact power of two, so the products are those of the plain decode (unless an A value is below 2^-98 and its
     * scaled copy is subnormal).
     */
    private static final float LOW = 0x1p-28f;

    /**
     * Row j of B dotted with the deinterleaved, pre-scaled A row {@code pa} without storing the decoded row: per chunk
     * the odd and even nibbles meet their A halves in a multiply and an FMA, and that sum is scaled by its group's scale
     * into one of two running totals (two chunks per step, so two FMA chains in flight; {@code k / chunk} odd leaves one
     * chunk for after the loop). The group index is counted per chunk, not divided.
     *
     * <p>One row per pass, on purpose: from DRAM, passes over four rows sharing the A loads (the previous form, grouped
     * accumulators, 0.86-1.2 ms at 4096 x 4096, g32, 1 thread, thread CPU time, one JVM, each kernel its own B) and over
     * two rows (1.06-1.24) ran slower than one row with two chunks per step (0.53-0.83 in the same runs; our SGEMV
     * 2.0-2.3); one row with four chunks per step 0.59-0.77. The method is also small, so its C2 compile is quick.
     */
    private static float fusedRow(Width w, MemorySegment b, MemorySegment scales, int j, int k, int g, float[] pa) {
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        VectorSpecies<Integer> is = QSpecies.ints(w);
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), chunk = 2 * l, perGroup = g / chunk;
        long e = (long) j * k, si = (long) j * (k / g);
        FloatVector t0 = FloatVector.zero(fs), t1 = t0;
        int p = 0, left = perGroup;
        for (; p <= k - 2 * chunk; p += 2 * chunk) {
            IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, is, 0);
            FloatVector u = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(fs, pa, p + l),
                    ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(fs, pa, p)));
            t0 = u.fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, si)), t0);
            if (--left == 0) {
                left = perGroup;
                si++;
            }
            int q = p + chunk;
            x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e + q) >> 1, NATIVE).convertShape(VectorOperators.B2I, is, 0);
            u = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(fs, pa, q + l),
                    ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(fs, pa, q)));
            t1 = u.fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, si)), t1);
            if (--left == 0) {
                left = perGroup;
                si++;
            }
        }
        if (p < k) { // one chunk left
            IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, is, 0);
            FloatVector u = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(fs, pa, p + l),
                    ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(fs, pa, p)));
            t0 = u.fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, si)), t0);
        }
        return Lanes.sum(t0.add(t1));
    }

    private static float dot(Width w, float[] a, int ai, float[] row, int k) {
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), p = 0;
        FloatVector s0 = FloatVector.zero(fs), s1 = s0, s2 = s0, s3 = s0;
        for (; p <= k - 4 * l; p += 4 * l) {
            s0 = FloatVector.fromArray(fs, a, ai + p).fma(FloatVector.fromArray(fs, row, p), s0);
            s1 = FloatVector.fromArray(fs, a, ai + p + l).fma(FloatVector.fromArray(fs, row, p + l), s1);
            s2 = FloatVector.fromArray(fs, a, ai + p + 2 * l).fma(FloatVector.fromArray(fs, row, p + 2 * l), s2);
            s3 = FloatVector.fromArray(fs, a, ai + p + 3 * l).fma(FloatVector.fromArray(fs, row, p + 3 * l), s3);
        }
        for (; p <= k - l; p += l) s0 = FloatVector.fromArray(fs, a, ai + p).fma(FloatVector.fromArray(fs, row, p), s0);
        float sum = Lanes.sum(s0.add(s1).add(s2.add(s3)));
        for (; p < k; p++) sum = Math.fma(a[ai + p], row[p], sum);
        return sum;
    }
}
