package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.ref.RefQGemm;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Exact s8 x s8 and u8 x s8 GEMM into s32 ({@link QGemmDesc} S8S8, U8S8), as dot products along k, which is
 * contiguous in both A rows and B rows (B is n x k). From {@link Int8FloatGemm#MIN_M} rows on, calls go to
 * {@link Int8FloatGemm} (exact f32 on the FMA units: 1.1-1.2x our SGEMM where this class's 2 x 2 tile measured
 * 0.75-0.85x by thread CPU time, same JVM); GEMV (m = 1) goes to {@link Int8Gemv} (the same step, two B rows per pass,
 * the u8 B row sums in the same pass); this class keeps small m ({@link #runS16}, also any m for tests).
 *
 * <p>The arithmetic, since the Vector API has no {@code vpmaddwd}/{@code vpdpbusd}: A is widened once to
 * s16 (u8 is stored as a - 128, an s8, and 128 * (row sum of B) is added back at the end); B bytes are
 * widened to s16 as they are loaded. Two products of s8 values summed in s16 lie in [-32512, 32768]; plus
 * the bias 32512 they lie in [0, 65280], exact as an unsigned 16-bit lane. One step multiplies two chunks
 * of k lanewise, adds them and the bias in s16, and reinterprets the 16-bit pairs as 32-bit lanes x =
 * lo + 65536 hi (lo, hi unsigned): it adds x to a "raw" s32 accumulator and x >>> 16 (= hi) to a "high" one.
 * Then sum(lo) + sum(hi) = raw - 65535 high (mod 2^32), less the bias per 16-bit lane. Everything is
 * exact modulo 2^32 and the true result fits in s32 (the descriptor limits k), so the result is exact
 * whatever the order, and identical for any thread count. Seven vector operations per two chunks (two
 * {@code vpmullw}, two {@code vpaddw}, a {@code vpsrld}, two {@code vpaddd}; by op count, as PrintAssembly is not
 * available here): in a microbenchmark the 2 x 2 tile ran about 0.65x the f32 6 x 32 FMA tile per CPU second.
 *
 * <p>Blocking: A (and B when m &gt;= 2) are first widened to s16 rows zero-padded to a whole number of chunks;
 * tasks are fixed blocks of C ({@link #MB} x {@link #NB}); inside, 2-row slivers of widened A (L1) meet
 * pairs of widened B rows (L2) in a 2 x 2 register tile of 8 accumulators. A leftover row (m odd) runs a 1 x 2
 * tile that reads and widens B bytes in place; its last chunk of k loads B under a mask.
 */
final class Int8Gemm {
    private Int8Gemm() {}

    /** Added to each s16 pair sum so that it is non-negative; removed once per lane and step at the end. */
    static final int BIAS = 32512;
    static final int MB = 64, NB = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfInt S32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Per-caller scratch for widened A and the B row sums, grown on demand and kept. */
    private static final class Scratch {
        short[] a = new short[0], b = new short[0];
        int[] bsum = new int[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Runs a validated S8S8 or U8S8 descriptor: {@code c} is s32 (scales null) or f32 = acc * srcScales[i] *
     * scales[j] rounded once from double, as the reference does.
     */
    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales,
                    MemorySegment scales) {
        if (d.m() >= Int8FloatGemm.MIN_M) Int8FloatGemm.run(w, d, a, b, c, srcScales, scales); // GEMM: exact f32 on the FMA units
        else if (d.m() == 1) Int8Gemv.run(w, d, a, b, c, srcScales, scales); // GEMV: B read once, in place
        else runS16(w, d, a, b, c, srcScales, scales);
    }

    /** The s16 formulation for any shape (used for m &lt; {@link Int8FloatGemm#MIN_M}; package-private for tests and speed mains). */
    static void runS16(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales,
                       MemorySegment scales) {
        int m = d.m(), n = d.n(), k = d.k();
        boolean unsigned = d.type() == QGemmDesc.QuantType.U8S8;
        int chunk = 2 * QSpecies.shorts(w).length();
        int kp = Math.ceilDiv(k, chunk) * chunk;
        Scratch s = SCRATCH.get();
        if (s.a.length < (long) m * kp) s.a = new short[Math.multiplyExact(m, kp)];
        if (s.bsum.length < n) s.bsum = new int[n];
        boolean packB = m >= 2; // the 2 x 2 tile reads widened B; GEMV-like calls read B bytes once, in place
        if (packB && s.b.length < (long) n * kp) s.b = new short[Math.multiplyExact(n, kp)];
        short[] aw = s.a, bw = packB ? s.b : null;
        int[] bsum = s.bsum;
        int rowTasks = Math.ceilDiv(m, MB), colTasks = Math.ceilDiv(n, NB);
        CpuThreads.parallelFor(rowTasks, t -> widen(w, a, aw, t * MB, Math.min(m, t * MB + MB), k, kp, unsigned));
        if (packB) CpuThreads.parallelFor(colTasks, t -> widen(w, b, bw, t * NB, Math.min(n, t * NB + NB), k, kp, false));
        if (unsigned) CpuThreads.parallelFor(colTasks, t -> rowSums(w, b, bsum, t * NB, Math.min(n, t * NB + NB), k));
        CpuThreads.parallelFor(rowTasks * colTasks, t -> {
            int i0 = (t / colTasks) * MB, j0 = (t % colTasks) * NB;
            block(w, aw, bw, kp, b, k, i0, Math.min(m, i0 + MB), j0, Math.min(n, j0 + NB), n, unsigned ? bsum : null, c, srcScales, scales,
                    d.out() == dev.kiln.kernels.DType.S8);
        });
    }

    /** Rows [i0, i1) of an operand as s16 (u8 as a - 128 when {@code unsigned}), zero-padded from k to kp. */
    static void widen(Width w, MemorySegment a, short[] aw, int i0, int i1, int k, int kp, boolean unsigned) {
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        int l = hb.length();
        byte flip = unsigned ? (byte) 0x80 : 0;
        for (int i = i0; i < i1; i++) {
            long src = (long) i * k;
            int dst = i * kp, p = 0;
            for (; p <= k - l; p += l) {
                ByteVector v = ByteVector.fromMemorySegment(hb, a, src + p, NATIVE).lanewise(VectorOperators.XOR, flip);
                ((ShortVector) v.convertShape(VectorOperators.B2S, ss, 0)).intoArray(aw, dst + p);
            }
            for (; p < k; p++) aw[dst + p] = (short) (byte) (a.get(ValueLayout.JAVA_BYTE, src + p) ^ flip);
            for (; p < kp; p++) aw[dst + p] = 0;
        }
    }

    /** bsum[j] = sum over p of B[j][p], for j in [j0, j1). */
    private static void rowSums(Width w, MemorySegment b, int[] bsum, int j0, int j1, int k) {
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        int l = hb.length();
        for (int j = j0; j < j1; j++) {
            long src = (long) j * k;
            int p = 0, sum = 0;
            ShortVector acc = ShortVector.zero(ss);
            int since = 0;
            for (; p <= k - l; p += l) {
                acc = acc.add((ShortVector) ByteVector.fromMemorySegment(hb, b, src + p, NATIVE).convertShape(VectorOperators.B2S, ss, 0));
                if (++since == 255) { // 255 * 128 fits in s16
                    sum += widenSum(acc);
                    acc = ShortVector.zero(ss);
                    since = 0;
                }
            }
            sum += widenSum(acc);
            for (; p < k; p++) sum += b.get(ValueLayout.JAVA_BYTE, src + p);
            bsum[j] = sum;
        }
    }

    private static int widenSum(ShortVector v) {
        int sum = 0;
        for (int i = 0; i < v.length(); i++) sum += v.lane(i);
        return sum;
    }

    private static void block(Width w, short[] aw, short[] bw, int kp, MemorySegment b, int k, int i0, int i1, int j0, int j1, int n,
                              int[] bsum, MemorySegment c, MemorySegment srcScales, MemorySegment scales, boolean s8) {
        int[] out = new int[8];
        int i = i0;
        for (; i + 2 <= i1; i += 2) {
            for (int j = j0; j < j1; j += 2) {
                int jb = Math.min(j + 1, j1 - 1); // an odd last column repeats (computed twice, stored once)
                tile2x2(w, aw, i * kp, kp, bw, j * kp, jb * kp, out);
                for (int r = 0; r < 2; r++) {
                    store(c, i + r, j, n, out[2 * r], bsum, srcScales, scales, s8);
                    if (jb != j) store(c, i + r, jb, n, out[2 * r + 1], bsum, srcScales, scales, s8);
                }
            }
        }
        for (; i < i1; i++) {
            for (int j = j0; j < j1; j += 2) {
                tile1x2(w, aw, i * kp, kp, b, k, j, j1, out);
                for (int q = 0; q < 2 && j + q < j1; q++) store(c, i, j + q, n, out[q], bsum, srcScales, scales, s8);
            }
        }
    }

    static void store(MemorySegment c, int i, int j, int n, int acc, int[] bsum, MemorySegment srcScales, MemorySegment scales,
                              boolean s8) {
        if (bsum != null) acc += 128 * bsum[j];
        long at = (long) i * n + j;
        if (scales == null) c.setAtIndex(S32, at, acc);
        else if (s8) c.set(ValueLayout.JAVA_BYTE, at, RefQGemm.requantised(acc * (double) srcScales.getAtIndex(F32, i) * scales.getAtIndex(F32, j)));
        else c.setAtIndex(F32, at, (float) (acc * (double) srcScales.getAtIndex(F32, i) * scales.getAtIndex(F32, j)));
    }

    /** B bytes [p, p + half) of the row at {@code row}, widened to s16; bytes at or past k read as 0. */
    private static ShortVector loadB(Width w, MemorySegment b, long row, int p, int k) {
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        ByteVector v = p + hb.length() <= k ? ByteVector.fromMemorySegment(hb, b, row + p, NATIVE) : loadTail(hb, b, row, p, k);
        return (ShortVector) v.convertShape(VectorOperators.B2S, QSpecies.shorts(w), 0);
    }

    /** The last, partial chunk of a row, under a mask (kept out of line: it runs once per row pair). */
    private static ByteVector loadTail(VectorSpecies<Byte> hb, MemorySegment b, long row, int p, int k) {
        return ByteVector.fromMemorySegment(hb, b, row + p, NATIVE, hb.indexInRange(p, k));
    }

    /** Raw 32-bit view of one step: two chunk products summed in s16 plus the bias. */
    private static IntVector step(ShortVector a0, ShortVector a1, ShortVector b0, ShortVector b1, ShortVector bias) {
        return a0.mul(b0).add(a1.mul(b1)).add(bias).reinterpretAsInts();
    }

    /** The exact dot product from a pair of accumulators after {@code steps} steps. */
    private static int finish(IntVector raw, IntVector high, int steps, int shortLanes) {
        return raw.reduceLanes(VectorOperators.ADD) - 65535 * high.reduceLanes(VectorOperators.ADD) - steps * shortLanes * BIAS;
    }

    /**
     * out[2r + q] = dot(A row r, B row q) for widened A rows at ai (stride kp) and widened B rows at ra, rb.
     * Arrays only, and only 2 x 2: a 4 x 2 or 2 x 3 tile (or this one with segment loads) exceeds C2's
     * NodeCountInliningCutoff while parsing, the last steps are left as calls on boxed vectors and the kernel
     * runs about 10x slower. Measured, not guessed: check with -XX:+PrintInlining before growing it.
     */
    static void tile2x2(Width w, short[] aw, int ai, int kp, short[] bw, int ra, int rb, int[] out) {
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        int half = ss.length(), chunk = 2 * half;
        ShortVector bias = ShortVector.broadcast(ss, (short) BIAS);
        IntVector z = IntVector.zero(QSpecies.ints(w));
        IntVector r00 = z, h00 = z, r01 = z, h01 = z, r10 = z, h10 = z, r11 = z, h11 = z;
        for (int p = 0; p < kp; p += chunk) {
            ShortVector b0 = ShortVector.fromArray(ss, bw, ra + p), b0h = ShortVector.fromArray(ss, bw, ra + p + half);
            ShortVector b1 = ShortVector.fromArray(ss, bw, rb + p), b1h = ShortVector.fromArray(ss, bw, rb + p + half);
            ShortVector x = ShortVector.fromArray(ss, aw, ai + p), xh = ShortVector.fromArray(ss, aw, ai + p + half);
            IntVector v = step(x, xh, b0, b0h, bias);
            r00 = r00.add(v);
            h00 = h00.add(v.lanewise(VectorOperators.LSHR, 16));
            v = step(x, xh, b1, b1h, bias);
            r01 = r01.add(v);
            h01 = h01.add(v.lanewise(VectorOperators.LSHR, 16));
            x = ShortVector.fromArray(ss, aw, ai + kp + p);
            xh = ShortVector.fromArray(ss, aw, ai + kp + p + half);
            v = step(x, xh, b0, b0h, bias);
            r10 = r10.add(v);
            h10 = h10.add(v.lanewise(VectorOperators.LSHR, 16));
            v = step(x, xh, b1, b1h, bias);
            r11 = r11.add(v);
            h11 = h11.add(v.lanewise(VectorOperators.LSHR, 16));
        }
        int steps = kp / chunk;
        out[0] = finish(r00, h00, steps, half);
        out[1] = finish(r01, h01, steps, half);
        out[2] = finish(r10, h10, steps, half);
        out[3] = finish(r11, h11, steps, half);
    }

    /**
     * out[q] = dot(A row at ai, B row j + q) for q < 2; a column at or past j1 repeats the last one. Two B rows
     * only: with four, the segment loads and widening took C2 past NodeCountInliningCutoff (boxed, 5x slower).
     */
    static void tile1x2(Width w, short[] aw, int ai, int kp, MemorySegment b, int k, int j, int j1, int[] out) {
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        int half = ss.length(), chunk = 2 * half;
        long r0 = (long) j * k, r1 = (long) Math.min(j + 1, j1 - 1) * k;
        ShortVector bias = ShortVector.broadcast(ss, (short) BIAS);
        IntVector z = IntVector.zero(QSpecies.ints(w));
        IntVector s0 = z, h0 = z, s1 = z, h1 = z;
        for (int p = 0; p < kp; p += chunk) {
            ShortVector x = ShortVector.fromArray(ss, aw, ai + p), xh = ShortVector.fromArray(ss, aw, ai + p + half);
            IntVector v = step(x, xh, loadB(w, b, r0, p, k), loadB(w, b, r0, p + half, k), bias);
            s0 = s0.add(v);
            h0 = h0.add(v.lanewise(VectorOperators.LSHR, 16));
            v = step(x, xh, loadB(w, b, r1, p, k), loadB(w, b, r1, p + half, k), bias);
            s1 = s1.add(v);
            h1 = h1.add(v.lanewise(VectorOperators.LSHR, 16));
        }
        int steps = kp / chunk;
        out[0] = finish(s0, h0, steps, half);
        out[1] = finish(s1, h1, steps, half);
    }
}
