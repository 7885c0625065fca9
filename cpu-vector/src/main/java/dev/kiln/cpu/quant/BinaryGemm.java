package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.QGemmDesc;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Binary GEMM ({@link QGemmDesc} B1): acc = k - 2 popcount(a xor b) over the first k bits of each row.
 *
 * <p>Rows are read as 64-bit little-endian words (bit p of a row is bit p % 64 of word p / 64, matching the
 * byte-wise least-significant-first order); the last word of each row is masked to its first k bits, so the
 * padding bits of the last byte and the next row's bytes count for nothing. B is packed word-major in
 * slivers of {@code 4 * lanes} rows, so one vector load gives the same word of several B rows; A words are
 * broadcast. The register tile is 4 A rows x 4 vectors of B rows, accumulating lanewise popcounts
 * ({@code VectorOperators.BIT_COUNT}: {@code vpopcntq} with AVX512-VPOPCNTDQ) with no per-element reduction.
 * Integer results: identical for any thread count.
 */
final class BinaryGemm {
    private BinaryGemm() {}

    static final int MB = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfLong W64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt S32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final class Scratch {
        long[] a = new long[0], b = new long[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales,
                    MemorySegment scales) {
        int m = d.m(), n = d.n(), k = d.k(), rowBytes = d.rowBytes(), words = Math.ceilDiv(k, 64);
        int lanes = QSpecies.longs(w).length(), nr = 4 * lanes, slivers = Math.ceilDiv(n, nr);
        Scratch s = SCRATCH.get();
        if (s.a.length < (long) m * words) s.a = new long[Math.multiplyExact(m, words)];
        if (s.b.length < (long) slivers * nr * words) s.b = new long[Math.multiplyExact(Math.multiplyExact(slivers, nr), words)];
        long[] pa = s.a, pb = s.b;
        int rowTasks = Math.ceilDiv(m, MB);
        CpuThreads.parallelFor(rowTasks, t -> {
            for (int i = t * MB; i < Math.min(m, t * MB + MB); i++)
                for (int q = 0; q < words; q++) pa[i * words + q] = word(a, (long) i * rowBytes, q, rowBytes, k);
        });
        CpuThreads.parallelFor(slivers, sl -> {
            int base = sl * nr * words;
            for (int r = 0; r < nr; r++) {
                int j = sl * nr + r;
                for (int q = 0; q < words; q++) pb[base + q * nr + r] = j < n ? word(b, (long) j * rowBytes, q, rowBytes, k) : 0;
            }
        });
        int groups = Math.ceilDiv(slivers, 4);
        CpuThreads.parallelFor(rowTasks * groups, t -> {
            int i0 = (t / groups) * MB, i1 = Math.min(m, i0 + MB), s0 = (t % groups) * 4, s1 = Math.min(slivers, s0 + 4);
            long[] out = new long[4 * nr];
            for (int sl = s0; sl < s1; sl++) {
                for (int i = i0; i < i1; i += 4) {
                    tile(w, pa, words, i, Math.min(4, i1 - i), pb, sl * nr * words, out);
                    if (scales == null && i + 4 <= i1 && (sl + 1) * nr <= n) { // whole tile, s32 out: vector epilogue
                        storeTile(w, out, nr, c, (long) i * n + (long) sl * nr, n, k);
                        continue;
                    }
                    for (int r = 0; r < Math.min(4, i1 - i); r++) {
                        for (int q = 0; q < nr && sl * nr + q < n; q++) {
                            int acc = k - 2 * (int) out[r * nr + q];
                            int j = sl * nr + q;
                            long at = (long) (i + r) * n + j;
                            if (scales == null) c.setAtIndex(S32, at, acc);
                            else c.setAtIndex(F32, at, (float) (acc * (double) srcScales.getAtIndex(F32, i + r) * scales.getAtIndex(F32, j)));
                        }
                    }
                }
            }
        });
    }

    /** Word q of the row at byte {@code row}, masked to the row's first k bits; never reads past the row. */
    static long word(MemorySegment seg, long row, int q, int rowBytes, int k) {
        long off = row + 8L * q;
        long v;
        if (8L * q + 8 <= rowBytes) {
            v = seg.get(W64, off);
        } else {
            v = 0;
            for (int i = 0; 8 * q + i < rowBytes; i++) v |= (seg.get(ValueLayout.JAVA_BYTE, off + i) & 0xFFL) << (8 * i);
        }
        int valid = k - 64 * q;
        return valid >= 64 ? v : v & ((1L << valid) - 1);
    }

    /**
     * Popcounts of (A row i + r) xor (B row r' of the sliver at pb[bi]) into out[r * nr + r'] for r < rows;
     * missing A rows repeat the last one. (Storing k - 2 popcount to C from the registers here instead, through a
     * helper taking the accumulators, ran 8x slower: the accumulators were boxed.)
     */
    private static void tile(Width w, long[] pa, int words, int i, int rows, long[] pb, int bi, long[] out) {
        VectorSpecies<Long> ls = QSpecies.longs(w);
        int l = ls.length(), nr = 4 * l;
        int a0 = i * words, a1 = (i + Math.min(1, rows - 1)) * words, a2 = (i + Math.min(2, rows - 1)) * words,
                a3 = (i + Math.min(3, rows - 1)) * words;
        LongVector z = LongVector.zero(ls);
        LongVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        LongVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        for (int q = 0; q < words; q++, bi += nr) {
            LongVector b0 = LongVector.fromArray(ls, pb, bi), b1 = LongVector.fromArray(ls, pb, bi + l);
            LongVector b2 = LongVector.fromArray(ls, pb, bi + 2 * l), b3 = LongVector.fromArray(ls, pb, bi + 3 * l);
            long x = pa[a0 + q];
            c00 = c00.add(b0.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c01 = c01.add(b1.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c02 = c02.add(b2.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c03 = c03.add(b3.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            x = pa[a1 + q];
            c10 = c10.add(b0.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c11 = c11.add(b1.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c12 = c12.add(b2.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c13 = c13.add(b3.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            x = pa[a2 + q];
            c20 = c20.add(b0.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c21 = c21.add(b1.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c22 = c22.add(b2.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c23 = c23.add(b3.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            x = pa[a3 + q];
            c30 = c30.add(b0.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c31 = c31.add(b1.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c32 = c32.add(b2.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
            c33 = c33.add(b3.lanewise(VectorOperators.XOR, x).lanewise(VectorOperators.BIT_COUNT));
        }
        c00.intoArray(out, 0);
        c01.intoArray(out, l);
        c02.intoArray(out, 2 * l);
        c03.intoArray(out, 3 * l);
        c10.intoArray(out, nr);
        c11.intoArray(out, nr + l);
        c12.intoArray(out, nr + 2 * l);
        c13.intoArray(out, nr + 3 * l);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + l);
        c22.intoArray(out, 2 * nr + 2 * l);
        c23.intoArray(out, 2 * nr + 3 * l);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + l);
        c32.intoArray(out, 3 * nr + 2 * l);
        c33.intoArray(out, 3 * nr + 3 * l);
    }

    /**
     * The s32 epilogue of a whole 4 x nr tile: k - 2 popcount, narrowed from the long lanes, stored at element
     * ci of C (row stride n). At k = 1024 (16 words per dot product) the scalar per-element epilogue cost about
     * as much as the popcounts.
     */
    private static void storeTile(Width w, long[] out, int nr, MemorySegment c, long ci, int n, int k) {
        VectorSpecies<Long> ls = QSpecies.longs(w);
        VectorSpecies<Integer> is = QSpecies.halfInts(w);
        int l = ls.length();
        IntVector kv = IntVector.broadcast(is, k);
        for (int r = 0; r < 4; r++) {
            for (int q = 0; q < nr; q += l) {
                IntVector counts = (IntVector) LongVector.fromArray(ls, out, r * nr + q).convertShape(VectorOperators.L2I, is, 0);
                kv.sub(counts.lanewise(VectorOperators.LSHL, 1)).intoMemorySegment(c, (ci + (long) r * n + q) * 4, NATIVE);
            }
        }
    }
}
