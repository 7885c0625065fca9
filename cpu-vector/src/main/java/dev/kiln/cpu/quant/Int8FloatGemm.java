package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.LaneTranspose;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.GemmMicro;
import dev.kiln.kernels.desc.QGemmDesc;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Exact s8 x s8 and u8 x s8 GEMM into s32 on the f32 FMA units: the GEMM path of {@link Int8Gemm} for m &gt;=
 * {@link #MIN_M}. Every operand value is an integer of at most 8 bits, converted to f32 once while packing
 * (u8 directly as 0..255, no offset); a product has |p| &lt;= 255 * 128 = 32640, so a panel of {@link #KC} = 512
 * steps of k sums to at most 16 711 680 &lt; 2^24 in magnitude and every partial sum on the way is an integer that
 * f32 holds exactly, whatever the order the FMAs take. Each panel's f32 tile is converted to s32 and added into an s32
 * block, so any k the descriptor admits is exact, and the result is identical for any thread count.
 *
 * <p>Why f32 and not the s16 formulation of {@link Int8Gemm}: the Vector API has no {@code vpmaddwd} or
 * {@code vpdpbusd}; the s16 step costs 7 vector operations per 2 x (lanes of s16) products (2 {@code vpmullw},
 * 2 {@code vpaddw}, {@code vpsrld}, 2 {@code vpaddd}; counted from the source, PrintAssembly is not
 * available here). Its 2 x 2 tile ran about 0.65x the f32 6 x 32 FMA tile per CPU second, and the whole s16
 * GEMM 0.75-0.89x our SGEMM by thread CPU time (the 1.0-1.4x seen before at 1 thread were wall-clock boxes on
 * a busy machine; 0.7-0.8x at 2 threads). A scalar loop {@code s += a[2p]*b[2p] + a[2p+1]*b[2p+1]} (the C2
 * MulAddS2I pattern, {@code vpmaddwd}/{@code vpdpwssd} when SuperWord vectorises it) stayed scalar as a
 * reduction: 1-3 G multiply-adds per second. So: the SGEMM microkernel ({@link GemmMicro}, 6 rows x 4 vectors
 * at 512 bits, 24 FMAs per 10 loads) with packing cheaper than SGEMM's (bytes in, A and B packed once per
 * call instead of B once per block): 1.08-1.22x SGEMM by thread CPU time at 1024 and 2048.
 *
 * <p>Not for m = 1: the same f32 arithmetic as a GEMV (B read in place, two rows per pass, {@code vpmovsxbd} +
 * {@code vcvtdq2ps} + FMA per lanes bytes) measured 2.1x SGEMV against 2.5x for the s16 1 x 2 tile in the same
 * JVM, so GEMV stays with the s16 step ({@link Int8Gemv}).
 *
 * <p>Layout: packed B is slivers of nr columns (nr = 4 vectors at 16 lanes, else 2), each k groups of nr
 * values; packed A is slivers of 6 rows, each panel of k stored as 6 rows of the panel's length, so the
 * microkernel reads both with the strides it expects. Tasks are fixed {@link #MC} x {@link #NC} blocks of C.
 */
final class Int8FloatGemm {
    private Int8FloatGemm() {}

    /** Fewer rows than this: the s16 kernels of {@link Int8Gemm} (a 6-row sliver would be mostly padding). */
    static final int MIN_M = 24;
    /**
     * k panel: 512 x 32640 &lt; 2^24, so every f32 partial sum of a panel is an exact integer. The longest panel
     * that allows: fewer passes of the s32 block (256 measured 0.87-0.97x SGEMM at 1024-2048 in a quiet run).
     */
    static final int KC = 512;
    /**
     * Blocks of C per task: 768 rows x one B sliver of 64 columns (at 16 lanes), as SGEMM's shared-packing schedule, so
     * the 512 x 64 panel of B stays in L2 while the block's A slivers stream past it: 1.03-1.05x SGEMM at 2048^3 and
     * 1.02-1.04x at 1024^3 (1 and 2 threads, `kiln bench qgemm`, two alternating runs) against 0.98-1.02x for 192 x 128
     * (which had beaten 96 x 256, 0.92-0.93x); 384 rows measured alike.
     */
    static final int MR = 6, MC = 768, NC = 64;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfInt S32 = ValueLayout.JAVA_INT_UNALIGNED;

    private static final class Scratch {
        float[] a = new float[0], b = new float[0];
    }

    /** Per-task scratch (pool threads): the f32 tile, the s32 block, and B's rows on their way through {@link LaneTranspose}. */
    private static final class TaskScratch {
        float[] tile = new float[0], rows = new float[0], block = new float[0], lanes = new float[0];
        int[] acc = new int[0];

        /** lanes x lanes floats for B's converted rows; {@link #block} sized alike for {@link LaneTranspose}. */
        float[] rows(int l) {
            if (rows.length != l * l) {
                rows = new float[l * l];
                block = new float[l * l];
            }
            return rows;
        }

        float[] lanes(int l) {
            if (lanes.length != 2 * l * Integer.numberOfTrailingZeros(l)) lanes = LaneTranspose.lanes(l);
            return lanes;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    private static final ThreadLocal<TaskScratch> TASK = ThreadLocal.withInitial(TaskScratch::new);

    /** Columns per B sliver: the microkernel's nr for this width (4 vectors with 32 registers, else 2). */
    static int nr(Width w) {
        int l = w.floats().length();
        return (l >= 16 ? 4 : 2) * l;
    }

    static void run(Width w, QGemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment srcScales, MemorySegment scales) {
        int m = d.m(), n = d.n(), k = d.k(), nr = nr(w);
        boolean unsigned = d.type() == QGemmDesc.QuantType.U8S8, s8 = d.out() == dev.kiln.kernels.DType.S8;
        int aSlivers = Math.ceilDiv(m, MR), bSlivers = Math.ceilDiv(n, nr);
        Scratch s = SCRATCH.get();
        long aLen = (long) aSlivers * MR * k, bLen = (long) bSlivers * nr * k;
        if (s.a.length < aLen) s.a = new float[Math.toIntExact(aLen)];
        if (s.b.length < bLen) s.b = new float[Math.toIntExact(bLen)];
        float[] pa = s.a, pb = s.b;
        CpuThreads.parallelFor(Math.ceilDiv(aSlivers, 8), t -> {
            for (int sl = t * 8; sl < Math.min(aSlivers, t * 8 + 8); sl++) packA(w, a, m, k, sl, unsigned, pa);
        });
        CpuThreads.parallelFor(bSlivers, sl -> packB(w, b, n, k, sl, nr, pb, TASK.get()));
        int rowTasks = Math.ceilDiv(m, MC), colTasks = Math.ceilDiv(n, NC);
        CpuThreads.parallelFor(rowTasks * colTasks, t -> {
            int i0 = (t / colTasks) * MC, j0 = (t % colTasks) * NC;
            block(w, pa, pb, k, nr, i0, Math.min(m, i0 + MC), j0, Math.min(n, j0 + NC), n, c, srcScales, scales, s8);
        });
    }

    /**
     * Sliver {@code sl} of A (rows 6 sl .. 6 sl + 5, missing rows zero) as f32: for each panel of k from p0,
     * its 6 rows of kc values at dst[6 sl k + 6 p0 + r kc].
     */
    private static void packA(Width w, MemorySegment a, int m, int k, int sl, boolean unsigned, float[] dst) {
        VectorSpecies<Float> fs = w.floats();
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        int l = fs.length();
        long base = (long) sl * MR * k;
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            for (int r = 0; r < MR; r++) {
                int i = sl * MR + r, at = Math.toIntExact(base + (long) MR * p0 + (long) r * kc);
                if (i >= m) {
                    java.util.Arrays.fill(dst, at, at + kc, 0f);
                    continue;
                }
                long src = (long) i * k + p0;
                int p = 0;
                if (qb != null) {
                    for (; p <= kc - l; p += l) {
                        IntVector v = (IntVector) ByteVector.fromMemorySegment(qb, a, src + p, NATIVE).convertShape(VectorOperators.B2I, QSpecies.ints(w), 0);
                        if (unsigned) v = v.and(0xFF);
                        ((FloatVector) v.convert(VectorOperators.I2F, 0)).intoArray(dst, at + p);
                    }
                }
                for (; p < kc; p++) {
                    int v = a.get(ValueLayout.JAVA_BYTE, src + p);
                    dst[at + p] = unsigned ? v & 0xFF : v;
                }
            }
        }
    }

    /** Eight B bytes at a time, element p in the low byte whatever the platform's order. */
    private static final ValueLayout.OfLong EIGHT = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Sliver {@code sl} of B (rows nr sl .. , missing rows zero) as f32: k groups of nr values at dst[sl nr k]. A whole
     * sliver goes in lanes x lanes blocks: lanes rows of lanes bytes converted to f32 into {@code rows}, then
     * transposed in registers ({@link LaneTranspose}); 2048 x 2048 of B packed in 0.8 ms against 3.1 ms for eight
     * bytes at a time through a long (thread CPU time, same JVM, 16 lanes). What is left (the last k % lanes
     * positions, a partial last sliver, widths with no byte species of that many lanes) is read eight bytes at a time
     * (one long load, eight shifts; the byte-at-a-time loop was 1.3x slower).
     */
    private static void packB(Width w, MemorySegment b, int n, int k, int sl, int nr, float[] dst, TaskScratch ts) {
        int base = sl * nr * k;
        int cols = Math.min(nr, n - sl * nr);
        long src = (long) sl * nr * k;
        int p = 0;
        VectorSpecies<Float> fs = w.floats();
        VectorSpecies<Byte> qb = QSpecies.quarterBytes(w);
        int l = fs.length();
        if (qb != null && cols == nr && nr % l == 0) {
            float[] rows = ts.rows(l), lanes = ts.lanes(l);
            MemorySegment rowSeg = MemorySegment.ofArray(rows);
            for (; p <= k - l; p += l)
                for (int q = 0; q < nr; q += l) {
                    for (int e = 0; e < l; e++)
                        ((FloatVector) ByteVector.fromMemorySegment(qb, b, src + (long) (q + e) * k + p, NATIVE)
                                .convertShape(VectorOperators.B2F, fs, 0)).intoArray(rows, e * l);
                    LaneTranspose.block(fs, lanes, rowSeg, 0, l, ts.block, dst, base + p * nr + q, nr);
                }
        }
        for (; p <= k - 8; p += 8) { // eight groups of nr at a time; the 8 x nr floats written stay in L1
            int at = base + p * nr;
            for (int q = 0; q < cols; q++) {
                long v = b.get(EIGHT, src + (long) q * k + p);
                dst[at + q] = (byte) v;
                dst[at + nr + q] = (byte) (v >> 8);
                dst[at + 2 * nr + q] = (byte) (v >> 16);
                dst[at + 3 * nr + q] = (byte) (v >> 24);
                dst[at + 4 * nr + q] = (byte) (v >> 32);
                dst[at + 5 * nr + q] = (byte) (v >> 40);
                dst[at + 6 * nr + q] = (byte) (v >> 48);
                dst[at + 7 * nr + q] = (byte) (v >> 56);
            }
            for (int r = 0; r < 8; r++) java.util.Arrays.fill(dst, at + r * nr + cols, at + (r + 1) * nr, 0f);
        }
        // the last k % 8 positions: k outer, columns inner
        for (int at = base + p * nr; p < k; p++, at += nr) {
            for (int q = 0; q < cols; q++) dst[at + q] = b.get(ValueLayout.JAVA_BYTE, src + (long) q * k + p);
            for (int q = cols; q < nr; q++) dst[at + q] = 0f;
        }
    }

    /** C block rows [i0, i1) x columns [j0, j1): k panels outer, A slivers, then B slivers inner. */
    private static void block(Width w, float[] pa, float[] pb, int k, int nr, int i0, int i1, int j0, int j1, int n, MemorySegment c,
                              MemorySegment srcScales, MemorySegment scales, boolean s8) {
        TaskScratch ts = TASK.get();
        int rows = i1 - i0, cols = j1 - j0;
        if (ts.tile.length < MR * nr) ts.tile = new float[MR * nr];
        if (ts.acc.length < MC * NC) ts.acc = new int[MC * NC];
        float[] tile = ts.tile;
        int[] acc = ts.acc;
        boolean wide = nr == 4 * w.floats().length();
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = Math.min(KC, k - p0);
            boolean first = p0 == 0;
            for (int ir = 0; ir < rows; ir += MR) {
                int ai = Math.toIntExact((long) ((i0 + ir) / MR) * MR * k + (long) MR * p0);
                int tr = Math.min(MR, rows - ir);
                for (int jr = 0; jr < cols; jr += nr) {
                    int bi = Math.toIntExact((long) ((j0 + jr) / nr) * nr * k + (long) nr * p0);
                    if (wide) GemmMicro.kernelWide(w, kc, pa, ai, pb, bi, tile);
                    else GemmMicro.kernel(w, kc, pa, ai, pb, bi, tile);
                    addTile(w, tile, nr, acc, ir * NC + jr, tr, Math.min(nr, cols - jr), first);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            int i = i0 + r;
            if (scales == null) {
                MemorySegment.copy(acc, r * NC, c, S32, ((long) i * n + j0) * 4, cols);
            } else {
                for (int q = 0; q < cols; q++) Int8Gemm.store(c, i, j0 + q, n, acc[r * NC + q], null, srcScales, scales, s8);
            }
        }
    }

    /** acc[at + r NC + q] (+)= (int) tile[r nr + q] for r &lt; rows, q &lt; cols: exact, the tile holds integers. */
    private static void addTile(Width w, float[] tile, int nr, int[] acc, int at, int rows, int cols, boolean first) {
        VectorSpecies<Float> fs = w.floats();
        VectorSpecies<Integer> is = QSpecies.ints(w);
        int l = fs.length();
        for (int r = 0; r < rows; r++) {
            int t = r * nr, o = at + r * NC, q = 0;
            for (; q <= cols - l; q += l) {
                IntVector v = (IntVector) FloatVector.fromArray(fs, tile, t + q).convert(VectorOperators.F2I, 0);
                if (!first) v = v.add(IntVector.fromArray(is, acc, o + q));
                v.intoArray(acc, o + q);
            }
            for (; q < cols; q++) acc[o + q] = (first ? 0 : acc[o + q]) + (int) tile[t + q];
        }
    }
}
