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
 * For m = 1 with every chunk full, the decoded values go straight into FMAs ({@link #fusedDot}), not a row:
 * per chunk of 2 x lanes weights one load, a widening, two shifts, two conversions and two FMAs, four B rows
 * per pass sharing the A loads ({@link #fusedDot4}; then two, then one for the rows left in a task).
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
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                int q = p < full ? deinterleaved(p, chunk) : p;
                pa[i * k + q] = a.getAtIndex(F32, (long) i * k + p);
            }
        }
        if (m == 1 && vector && full == k) { // GEMV: decode and multiply in registers, no scratch row
            CpuThreads.parallelFor(Math.ceilDiv(n, 64), t -> {
                int j = t * 64, j1 = Math.min(n, t * 64 + 64);
                float[] lanes = new float[4 * w.floats().length()];
                for (; j + 4 <= j1; j += 4) fusedDot4(w, b, scales, j, k, g, pa, c, lanes);
                for (; j + 2 <= j1; j += 2) fusedDot2(w, b, scales, j, k, g, pa, c);
                if (j < j1) c.setAtIndex(F32, j, fusedDot(w, b, scales, j, k, g, pa));
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
     * Row j of B dotted with the deinterleaved A row {@code pa} without storing the decoded row: per chunk
     * the even and odd nibbles meet their A halves in two FMAs into a group accumulator, which is scaled
     * into the total once per group.
     */
    /**
     * The fused loops decode the low nibble as x << 28 (its value times 2^28, exact in f32) and the high one as
     * x >> 4 (x is the sign-extended byte): one shift each instead of two. The low products are scaled back by
     * this exact power of two where the two halves meet, so the sums are those of the plain decode.
     */
    private static final float LOW = 0x1p-28f;

    private static float fusedDot(Width w, MemorySegment b, MemorySegment scales, int j, int k, int g, float[] pa) {
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), chunk = 2 * l;
        long e = (long) j * k, si = (long) j * (k / g);
        // the scale index counted, not divided per group (an integer division per group, measured: it and the
        // one-FMA-per-group chain held this at ~1.2x SGEMV); everything in this one method, since a helper
        // returning a vector was not inlined and ran boxed, 4x slower
        FloatVector total = FloatVector.zero(fs);
        for (int p0 = 0; p0 < k; p0 += g, si++) {
            FloatVector acc0 = FloatVector.zero(fs), acc1 = acc0;
            for (int p = p0; p < p0 + g; p += chunk) {
                IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e + p) >> 1, NATIVE)
                        .convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                FloatVector even = (FloatVector) x.lanewise(VectorOperators.LSHL, 28)
                        .convert(VectorOperators.I2F, 0);
                FloatVector odd = (FloatVector) x.lanewise(VectorOperators.ASHR, 4)
                        .convert(VectorOperators.I2F, 0);
                acc0 = even.fma(FloatVector.fromArray(fs, pa, p), acc0);
                acc1 = odd.fma(FloatVector.fromArray(fs, pa, p + l), acc1);
            }
            total = acc0.fma(FloatVector.broadcast(fs, LOW), acc1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, si)), total);
        }
        return Lanes.sum(total);
    }

    /**
     * {@link #fusedDot} for rows j and j + 1 together, stored to C: each A load serves both rows and the two
     * rows' chains interleave (measured 1.3x the one-row loop alone).
     */
    private static void fusedDot2(Width w, MemorySegment b, MemorySegment scales, int j, int k, int g, float[] pa, MemorySegment c) {
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), chunk = 2 * l, groups = k / g;
        long e0 = (long) j * k, e1 = e0 + k, s0 = (long) j * groups, s1 = s0 + groups;
        FloatVector t0 = FloatVector.zero(fs), t1 = t0;
        for (int p0 = 0; p0 < k; p0 += g, s0++, s1++) {
            FloatVector a0 = FloatVector.zero(fs), a1 = a0, c0 = a0, c1 = a0;
            for (int p = p0; p < p0 + g; p += chunk) {
                FloatVector ae = FloatVector.fromArray(fs, pa, p), ao = FloatVector.fromArray(fs, pa, p + l);
                IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e0 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                IntVector y = (IntVector) ByteVector.fromMemorySegment(qb, b, (e1 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                a0 = ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, a0);
                a1 = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, a1);
                c0 = ((FloatVector) y.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, c0);
                c1 = ((FloatVector) y.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, c1);
            }
            t0 = a0.fma(FloatVector.broadcast(fs, LOW), a1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s0)), t0);
            t1 = c0.fma(FloatVector.broadcast(fs, LOW), c1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s1)), t1);
        }
        c.setAtIndex(F32, j, Lanes.sum(t0));
        c.setAtIndex(F32, j + 1, Lanes.sum(t1));
    }

    /**
     * {@link #fusedDot2} for rows j to j + 3: each A load serves four rows, eight FMA chains in flight (4096 x 4096
     * g32, 1 thread: 1.35-1.6x the two-row loop by thread CPU time, same JVM, each with its own copy of B). The row
     * totals leave through {@code lanes} and are summed in lane order as {@link Lanes#sum} does (same bits as the
     * one- and two-row loops, so results do not depend on how rows fall into tasks): four Lanes.sum calls after
     * this loop took C2 past NodeCountInliningCutoff, the totals were boxed and the loop ran at the two-row speed
     * in some JVMs (0.79-1.32 ms over 8).
     */
    private static void fusedDot4(Width w, MemorySegment b, MemorySegment scales, int j, int k, int g, float[] pa, MemorySegment c, float[] lanes) {
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        VectorSpecies<Float> fs = w.floats();
        int l = fs.length(), chunk = 2 * l, groups = k / g;
        long e0 = (long) j * k, e1 = e0 + k, e2 = e1 + k, e3 = e2 + k, s0 = (long) j * groups;
        FloatVector t0 = FloatVector.zero(fs), t1 = t0, t2 = t0, t3 = t0;
        FloatVector low = FloatVector.broadcast(fs, LOW);
        for (int p0 = 0; p0 < k; p0 += g, s0++) {
            FloatVector a0 = FloatVector.zero(fs), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
            for (int p = p0; p < p0 + g; p += chunk) {
                FloatVector ae = FloatVector.fromArray(fs, pa, p), ao = FloatVector.fromArray(fs, pa, p + l);
                IntVector x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e0 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                a0 = ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, a0);
                a1 = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, a1);
                x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e1 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                b0 = ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, b0);
                b1 = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, b1);
                x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e2 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                c0 = ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, c0);
                c1 = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, c1);
                x = (IntVector) ByteVector.fromMemorySegment(qb, b, (e3 + p) >> 1, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                d0 = ((FloatVector) x.lanewise(VectorOperators.LSHL, 28).convert(VectorOperators.I2F, 0)).fma(ae, d0);
                d1 = ((FloatVector) x.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0)).fma(ao, d1);
            }
            t0 = a0.fma(low, a1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s0)), t0);
            t1 = b0.fma(low, b1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s0 + groups)), t1);
            t2 = c0.fma(low, c1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s0 + 2L * groups)), t2);
            t3 = d0.fma(low, d1).fma(FloatVector.broadcast(fs, scales.getAtIndex(F32, s0 + 3L * groups)), t3);
        }
        t0.intoArray(lanes, 0);
        t1.intoArray(lanes, l);
        t2.intoArray(lanes, 2 * l);
        t3.intoArray(lanes, 3 * l);
        for (int q = 0; q < 4; q++) {
            float sum = 0; // lane order, as Lanes.sum: the same bits as the one- and two-row loops
            for (int i = 0; i < l; i++) sum += lanes[q * l + i];
            c.setAtIndex(F32, j + q, sum);
        }
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
