package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.QGemmDesc;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Exact int8 GEMV (m = 1 of {@link Int8Gemm}, types S8S8 and U8S8): C[j] = A row . B row j with B (n x k) read once, in
 * place, two B rows per pass. The arithmetic is {@link Int8Gemm}'s s16 step (two chunk products summed in s16 plus a
 * bias, read back as 32-bit lanes into a raw and a high accumulator, exact modulo 2^32), so the results are those of the
 * other int8 paths bit for bit. For u8, A is stored as a - 128 (an s8) and 128 x (B row sum) is added back; the row sums
 * are taken in the same pass as the products.
 *
 * <p>Why two rows: from DRAM, a pass whose step touches more cache lines streams slower, not faster. Measured (4096 x 4096,
 * 1 thread, thread CPU time, one JVM, calls alternating, each kernel its own copy of B; s8): two rows of one chunk
 * 0.61-0.66 ms, one row of two chunks 0.63, three rows 1.08, four rows 0.93-0.97, two rows of two chunks 0.94, eight rows
 * 0.80-0.84, {@link Int8Gemm}'s 1 x 2 tile (two rows, a masked load behind a branch) 0.91-1.03; our SGEMV 2.1-2.2. The same
 * holds for the f32 GEMV (see GemmGemv). With B in L1 the two-row pass costs 0.25 ms per 16 MB, the four-row one 0.27.
 *
 * <p>How it is written, and why (C2 limits, measured with -XX:+PrintInlining): every vector operation of the pass is
 * written out in {@link #pairS8} and {@link #pairU8}, with no helper method of ours. The Vector API's own methods are
 * force-inlined; a small helper of ours may not be, and then its calls stay calls on boxed vectors (10-40x slower). For
 * the same reason the loop covers whole chunks only: the last, partial chunk of k is added in scalar code ({@link #tail},
 * {@link #tailSum}) instead of a masked load behind a branch in the loop. A row left over at the end (n odd) runs the
 * same pass with a row stride of 0 and keeps the first result.
 */
final class Int8Gemv {
    private Int8Gemv() {}

    /** Outputs per task (even): a fixed split, so the results do not depend on the thread count. */
    static final int ROWS_PER_TASK = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Per-caller scratch: A widened to s16, grown on demand and kept. */
    private static final class Scratch {
        short[] a = new short[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Runs a validated S8S8 or U8S8 descriptor with m = 1 (output types as {@link Int8Gemm#run}). */
    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales,
                    MemorySegment scales) {
        int n = d.n(), k = d.k();
        boolean s8 = d.out() == dev.kiln.kernels.DType.S8, unsigned = d.type() == QGemmDesc.QuantType.U8S8;
        int chunk = 2 * QSpecies.shorts(w).length();
        int kp = Math.ceilDiv(k, chunk) * chunk, full = k / chunk * chunk;
        Scratch s = SCRATCH.get();
        if (s.a.length < kp) s.a = new short[kp];
        short[] aw = s.a;
        Int8Gemm.widen(w, a, aw, 0, 1, k, kp, unsigned); // u8 as a - 128, an s8
        CpuThreads.parallelFor(Math.ceilDiv(n, ROWS_PER_TASK), t -> {
            int j0 = t * ROWS_PER_TASK, j1 = Math.min(n, j0 + ROWS_PER_TASK);
            int[] out = new int[2], sums = new int[2];
            short[] lanes = unsigned ? new short[2 * QSpecies.shorts(w).length()] : null;
            for (int j = j0; j < j1; j += 2) {
                boolean pair = j + 1 < j1;
                long row = (long) j * k, st = pair ? k : 0;
                if (unsigned) pairU8(w, aw, full, b, row, st, out, sums, lanes);
                else pairS8(w, aw, full, b, row, st, out);
                for (int q = 0; q < (pair ? 2 : 1); q++) {
                    long r = row + q * st;
                    int acc = out[q] + tail(aw, b, r, full, k);
                    if (unsigned) acc += 128 * (sums[q] + tailSum(b, r, full, k));
                    Int8Gemm.store(c, 0, j + q, n, acc, null, srcScales, scales, s8);
                }
            }
        });
    }

    /** The sum of B row bytes at k positions [p, k). */
    private static int tailSum(MemorySegment b, long row, int p, int k) {
        int sum = 0;
        for (; p < k; p++) sum += b.get(ValueLayout.JAVA_BYTE, row + p);
        return sum;
    }

    /** The products of k positions [p, k) of the B row at {@code row} with the widened A, summed exactly. */
    private static int tail(short[] aw, MemorySegment b, long row, int p, int k) {
        int sum = 0;
        for (; p < k; p++) sum += aw[p] * b.get(ValueLayout.JAVA_BYTE, row + p);
        return sum;
    }

    /**
     * out[q] = widened A . B row at r0 + q st over k positions [0, full), q &lt; 2 ({@code full} a whole number of
     * chunks; st = 0 repeats one row). Written out in full on purpose: see the class comment.
     */
    static void pairS8(Width w, short[] aw, int full, MemorySegment b, long r0, long st, int[] out) {
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        int half = ss.length(), chunk = 2 * half;
        ShortVector bias = ShortVector.broadcast(ss, (short) Int8Gemm.BIAS);
        IntVector z = IntVector.zero(QSpecies.ints(w));
        IntVector s0 = z, h0 = z, s1 = z, h1 = z;
        long r1 = r0 + st;
        for (int p = 0; p < full; p += chunk) {
            ShortVector x = ShortVector.fromArray(ss, aw, p), xh = ShortVector.fromArray(ss, aw, p + half);
            ShortVector bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, r0 + p, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
            ShortVector bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, r0 + p + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
            IntVector v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
            s0 = s0.add(v);
            h0 = h0.add(v.lanewise(VectorOperators.LSHR, 16));
            bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, r1 + p, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
            bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, r1 + p + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
            v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
            s1 = s1.add(v);
            h1 = h1.add(v.lanewise(VectorOperators.LSHR, 16));
        }
        // raw - 65535 high, less the bias of every 16-bit lane and step (all modulo 2^32: exact, see Int8Gemm)
        int bias16 = full / chunk * half * Int8Gemm.BIAS;
        out[0] = s0.sub(h0.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        out[1] = s1.sub(h1.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
    }

    /** Chunks per block of the u8 pass's B sums in s16: 127 x 2 x 128 &lt; 2^15. */
    private static final int SUM_STEPS = 127;

    /**
     * {@link #pairS8}, and sums[q] = the sum of that row's bytes over [0, full): the two B chunks of each step are added
     * into an s16 sum per row beside the products, flushed every {@link #SUM_STEPS} chunks through {@code lanes}.
     */
    static void pairU8(Width w, short[] aw, int full, MemorySegment b, long r0, long st, int[] out, int[] sums, short[] lanes) {
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        int half = ss.length(), chunk = 2 * half;
        ShortVector bias = ShortVector.broadcast(ss, (short) Int8Gemm.BIAS);
        IntVector z = IntVector.zero(QSpecies.ints(w));
        IntVector s0 = z, h0 = z, s1 = z, h1 = z;
        long r1 = r0 + st;
        int sum0 = 0, sum1 = 0;
        for (int p0 = 0; p0 < full; p0 += SUM_STEPS * chunk) {
            ShortVector u0 = ShortVector.zero(ss), u1 = u0;
            for (int p = p0, p1 = Math.min(full, p0 + SUM_STEPS * chunk); p < p1; p += chunk) {
                ShortVector x = ShortVector.fromArray(ss, aw, p), xh = ShortVector.fromArray(ss, aw, p + half);
                ShortVector bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, r0 + p, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                ShortVector bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, r0 + p + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u0 = u0.add(bl).add(bh);
                IntVector v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s0 = s0.add(v);
                h0 = h0.add(v.lanewise(VectorOperators.LSHR, 16));
                bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, r1 + p, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, r1 + p + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u1 = u1.add(bl).add(bh);
                v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s1 = s1.add(v);
                h1 = h1.add(v.lanewise(VectorOperators.LSHR, 16));
            }
            // the block's B sums, |sum| <= 256 SUM_STEPS per 16-bit lane, leave through lanes: summed in scalar code
            u0.intoArray(lanes, 0);
            u1.intoArray(lanes, half);
            for (int i = 0; i < half; i++) {
                sum0 += lanes[i];
                sum1 += lanes[half + i];
            }
        }
        int bias16 = full / chunk * half * Int8Gemm.BIAS;
        out[0] = s0.sub(h0.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        out[1] = s1.sub(h1.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        sums[0] = sum0;
        sums[1] = sum1;
    }
}
