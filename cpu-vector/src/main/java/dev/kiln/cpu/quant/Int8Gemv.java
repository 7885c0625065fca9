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
 * Exact u8 x s8 GEMV (m = 1 of {@link Int8Gemm}, type U8S8): C[j] = A row . B row j with B (n x k) read once, in place,
 * four B rows per pass. A is stored as a - 128 (an s8) and 128 x (B row sum) is added back; the row sums are taken in
 * the same pass as the products, where {@link Int8Gemm} reads B a second time for them. The arithmetic is
 * {@link Int8Gemm}'s s16 step (two chunk products summed in s16 plus a bias, read back as 32-bit lanes into a raw and a
 * high accumulator, exact modulo 2^32), so the results are those of the other int8 paths bit for bit.
 *
 * <p>Measured (4096 x 4096, 1 thread, thread CPU time, one JVM, calls alternating, each kernel with its own copy of
 * B): 1.11-1.18 ms against 1.36-1.50 for the two-pass path; B in L2 0.34 against 0.63-0.67 ms. The same pass without
 * the sums, for s8, ran at 0.95-1.02 ms against 0.90-1.01 for {@link Int8Gemm}'s 1 x 2 tile, so s8 stays there. Eight
 * rows per pass ran s8 at 0.86-0.93 ms, but C2 took several seconds to compile that method on the loaded 2-core
 * machine (its OSR compile queued at 8-9 s and was installed at 13-15 s of a bench run); until then the C1 code runs
 * the Vector API boxed, 10-100 times slower, and {@code kiln bench qgemm} read 0.0-0.1 GOP/s in 5 of 9 runs.
 *
 * <p>How it is written, and why (C2 limits, measured with -XX:+PrintInlining): every vector operation of the pass is
 * written out in {@link #rows4}, with no helper method of ours. The Vector API's own methods are force-inlined, which
 * C2 does even past NodeCountInliningCutoff (18000 parse nodes); a small helper of ours is not, and past the cutoff
 * the helper calls stayed calls on boxed vectors (10-40x slower, and only in some JVMs, depending on what had been
 * compiled before). For the same reason the loop covers whole chunks only: the last, partial chunk of k is added in
 * scalar code ({@link #tail}, {@link #tailSum}) instead of a masked load behind a branch in the loop. Rows left over
 * at the end of a task (fewer than four) run the same pass with a row stride of 0 and keep the first result.
 */
final class Int8Gemv {
    private Int8Gemv() {}

    /** Outputs per task: a fixed split, so the results do not depend on the thread count. */
    static final int ROWS_PER_TASK = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Per-caller scratch: A widened to s16, grown on demand and kept. */
    private static final class Scratch {
        short[] a = new short[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Runs a validated U8S8 descriptor with m = 1 (output types as {@link Int8Gemm#run}). */
    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales,
                    MemorySegment scales) {
        int n = d.n(), k = d.k();
        boolean s8 = d.out() == dev.kiln.kernels.DType.S8;
        int chunk = 2 * QSpecies.shorts(w).length();
        int kp = Math.ceilDiv(k, chunk) * chunk, full = k / chunk * chunk;
        Scratch s = SCRATCH.get();
        if (s.a.length < kp) s.a = new short[kp];
        short[] aw = s.a;
        Int8Gemm.widen(w, a, aw, 0, 1, k, kp, true); // a - 128, an s8
        CpuThreads.parallelFor(Math.ceilDiv(n, ROWS_PER_TASK), t -> {
            int j = t * ROWS_PER_TASK, j1 = Math.min(n, j + ROWS_PER_TASK);
            int[] out = new int[4], sums = new int[4];
            short[] lanes = new short[4 * QSpecies.shorts(w).length()];
            for (; j + 4 <= j1; j += 4) {
                rows4(w, aw, full, b, (long) j * k, k, out, sums, lanes);
                for (int q = 0; q < 4; q++) {
                    long row = (long) (j + q) * k;
                    int acc = out[q] + tail(aw, b, row, full, k) + 128 * (sums[q] + tailSum(b, row, full, k));
                    Int8Gemm.store(c, 0, j + q, n, acc, null, srcScales, scales, s8);
                }
            }
            for (; j < j1; j++) { // fewer than four rows left: one row, four times over
                long row = (long) j * k;
                rows4(w, aw, full, b, row, 0, out, sums, lanes);
                int acc = out[0] + tail(aw, b, row, full, k) + 128 * (sums[0] + tailSum(b, row, full, k));
                Int8Gemm.store(c, 0, j, n, acc, null, srcScales, scales, s8);
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

    /** Chunks per block of the u8 pass's B sums in s16: 127 x 2 x 128 &lt; 2^15. */
    private static final int SUM_STEPS = 127;

    /**
     * out[q] = widened A . B row at r0 + q st over k positions [0, full), and sums[q] = the sum of that row's bytes
     * there, q &lt; 4 ({@code full} a whole number of chunks; st = 0 repeats one row). The two B chunks of each step
     * are added into an s16 sum per row beside the products, flushed every {@link #SUM_STEPS} chunks. Written out in
     * full on purpose: see the class comment.
     */
    static void rows4(Width w, short[] aw, int full, MemorySegment b, long r0, long st, int[] out, int[] sums, short[] lanes) {
        VectorSpecies<Short> ss = QSpecies.shorts(w);
        VectorSpecies<Byte> hb = QSpecies.halfBytes(w);
        int half = ss.length(), chunk = 2 * half;
        ShortVector bias = ShortVector.broadcast(ss, (short) Int8Gemm.BIAS);
        IntVector z = IntVector.zero(QSpecies.ints(w));
        IntVector s0 = z, h0 = z, s1 = z, h1 = z, s2 = z, h2 = z, s3 = z, h3 = z;
        java.util.Arrays.fill(sums, 0);
        for (int p0 = 0; p0 < full; p0 += SUM_STEPS * chunk) {
            ShortVector zs = ShortVector.zero(ss), u0 = zs, u1 = zs, u2 = zs, u3 = zs;
            for (int p = p0, p1 = Math.min(full, p0 + SUM_STEPS * chunk); p < p1; p += chunk) {
                ShortVector x = ShortVector.fromArray(ss, aw, p), xh = ShortVector.fromArray(ss, aw, p + half);
                long o = r0 + p;
                IntVector v;
                ShortVector bl, bh;
                bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, o, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, o + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u0 = u0.add(bl).add(bh);
                v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s0 = s0.add(v);
                h0 = h0.add(v.lanewise(VectorOperators.LSHR, 16));
                o += st;
                bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, o, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, o + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u1 = u1.add(bl).add(bh);
                v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s1 = s1.add(v);
                h1 = h1.add(v.lanewise(VectorOperators.LSHR, 16));
                o += st;
                bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, o, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, o + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u2 = u2.add(bl).add(bh);
                v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s2 = s2.add(v);
                h2 = h2.add(v.lanewise(VectorOperators.LSHR, 16));
                o += st;
                bl = (ShortVector) ByteVector.fromMemorySegment(hb, b, o, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                bh = (ShortVector) ByteVector.fromMemorySegment(hb, b, o + half, NATIVE).convertShape(VectorOperators.B2S, ss, 0);
                u3 = u3.add(bl).add(bh);
                v = x.mul(bl).add(xh.mul(bh)).add(bias).reinterpretAsInts();
                s3 = s3.add(v);
                h3 = h3.add(v.lanewise(VectorOperators.LSHR, 16));
            }
            // the block's B sums, |sum| <= 256 SUM_STEPS per 16-bit lane, leave through lanes: summed in scalar code
            u0.intoArray(lanes, 0);
            u1.intoArray(lanes, half);
            u2.intoArray(lanes, 2 * half);
            u3.intoArray(lanes, 3 * half);
            for (int q = 0; q < 4; q++) for (int i = 0; i < half; i++) sums[q] += lanes[q * half + i];
        }
        // raw - 65535 high, less the bias of every 16-bit lane and step (all modulo 2^32: exact, see Int8Gemm)
        int bias16 = full / chunk * half * Int8Gemm.BIAS;
        out[0] = s0.sub(h0.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        out[1] = s1.sub(h1.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        out[2] = s2.sub(h2.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
        out[3] = s3.sub(h3.mul(65535)).reduceLanes(VectorOperators.ADD) - bias16;
    }
}
