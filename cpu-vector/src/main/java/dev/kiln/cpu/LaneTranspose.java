package dev.kiln.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * l x l transposes of floats in registers (l = the species' lanes): log2(l) rounds, each swapping the off-diagonal
 * sub-blocks of half the size between pairs of rows with two-source lane selects. Used where a kernel needs a
 * matrix in the other orientation: dY for the weight-gradient GEMM of a convolution, int8 B for the exact-f32 GEMM.
 * Pure data movement, so any caller's results stay the same bits.
 */
public final class LaneTranspose {
    private LaneTranspose() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * Lane indices of the rounds for {@link #block} (sub-blocks of half = l/2, l/4, .. 1 lanes; per round the first
     * row's l indices, then the second's; index l + i picks lane i of the second row): the first row keeps its even
     * sub-blocks and takes the second's even ones into its odd places; the second takes the first's odd sub-blocks
     * into its even places and keeps its odd ones.
     */
    public static float[] lanes(int l) {
        float[] idx = new float[2 * l * Integer.numberOfTrailingZeros(l)];
        for (int half = l / 2, round = 0; half >= 1; half /= 2, round += 2 * l)
            for (int i = 0; i < l; i++) {
                boolean even = (i / half) % 2 == 0;
                idx[round + i] = even ? i : l + i - half;
                idx[round + l + i] = even ? i + half : l + i;
            }
        return idx;
    }

    /**
     * The l x l block of {@code src} (l rows of l floats, row e at float element {@code at + e*stride}) into dst
     * transposed: the block's column e becomes l floats at {@code dst[to + e*dstStride]}. {@code lanes} is
     * {@link #lanes}(l); {@code scratch} holds l*l floats (unused at 16 lanes, where the rows stay in registers).
     */
    public static void block(VectorSpecies<Float> sp, float[] lanes, MemorySegment src, long at, long stride, float[] scratch,
                             float[] dst, int to, int dstStride) {
        int l = sp.length();
        if (l == 16) {
            block16(sp, lanes, src, at, stride, dst, to, dstStride);
            return;
        }
        for (int e = 0; e < l; e++) FloatVector.fromMemorySegment(sp, src, (at + e * stride) * 4, NATIVE).intoArray(scratch, e * l);
        for (int half = l / 2, round = 0; half >= 1; half /= 2, round += 2 * l) {
            FloatVector lo = FloatVector.fromArray(sp, lanes, round), hi = FloatVector.fromArray(sp, lanes, round + l);
            for (int r = 0; r < l; r++) {
                if ((r / half) % 2 != 0) continue;
                FloatVector a = FloatVector.fromArray(sp, scratch, r * l), b = FloatVector.fromArray(sp, scratch, (r + half) * l);
                lo.selectFrom(a, b).intoArray(scratch, r * l);
                hi.selectFrom(a, b).intoArray(scratch, (r + half) * l);
            }
        }
        for (int e = 0; e < l; e++) FloatVector.fromArray(sp, scratch, e * l).intoArray(dst, to + e * dstStride);
    }

    /**
     * {@link #block} at 16 lanes with the block's rows in registers, written out: no round trip through an array
     * between rounds (the weight gradient of a 7x7/2 stem 1.26x faster than the array form, thread CPU time), and no
     * helper taking vectors, which C2 would not inline and would box.
     */
    private static void block16(VectorSpecies<Float> sp, float[] lanes, MemorySegment y, long at, long plane, float[] yt, int to, int nr) {
        long a = at * 4, step = plane * 4L;
        FloatVector r0 = FloatVector.fromMemorySegment(sp, y, a + 0 * step, NATIVE), r1 = FloatVector.fromMemorySegment(sp, y, a + 1 * step, NATIVE);
        FloatVector r2 = FloatVector.fromMemorySegment(sp, y, a + 2 * step, NATIVE), r3 = FloatVector.fromMemorySegment(sp, y, a + 3 * step, NATIVE);
        FloatVector r4 = FloatVector.fromMemorySegment(sp, y, a + 4 * step, NATIVE), r5 = FloatVector.fromMemorySegment(sp, y, a + 5 * step, NATIVE);
        FloatVector r6 = FloatVector.fromMemorySegment(sp, y, a + 6 * step, NATIVE), r7 = FloatVector.fromMemorySegment(sp, y, a + 7 * step, NATIVE);
        FloatVector r8 = FloatVector.fromMemorySegment(sp, y, a + 8 * step, NATIVE), r9 = FloatVector.fromMemorySegment(sp, y, a + 9 * step, NATIVE);
        FloatVector r10 = FloatVector.fromMemorySegment(sp, y, a + 10 * step, NATIVE), r11 = FloatVector.fromMemorySegment(sp, y, a + 11 * step, NATIVE);
        FloatVector r12 = FloatVector.fromMemorySegment(sp, y, a + 12 * step, NATIVE), r13 = FloatVector.fromMemorySegment(sp, y, a + 13 * step, NATIVE);
        FloatVector r14 = FloatVector.fromMemorySegment(sp, y, a + 14 * step, NATIVE), r15 = FloatVector.fromMemorySegment(sp, y, a + 15 * step, NATIVE);
        FloatVector lo, hi, t;
        lo = FloatVector.fromArray(sp, lanes, 0); // sub-blocks of 8
        hi = FloatVector.fromArray(sp, lanes, 16);
        t = lo.selectFrom(r0, r8); r8 = hi.selectFrom(r0, r8); r0 = t;
        t = lo.selectFrom(r1, r9); r9 = hi.selectFrom(r1, r9); r1 = t;
        t = lo.selectFrom(r2, r10); r10 = hi.selectFrom(r2, r10); r2 = t;
        t = lo.selectFrom(r3, r11); r11 = hi.selectFrom(r3, r11); r3 = t;
        t = lo.selectFrom(r4, r12); r12 = hi.selectFrom(r4, r12); r4 = t;
        t = lo.selectFrom(r5, r13); r13 = hi.selectFrom(r5, r13); r5 = t;
        t = lo.selectFrom(r6, r14); r14 = hi.selectFrom(r6, r14); r6 = t;
        t = lo.selectFrom(r7, r15); r15 = hi.selectFrom(r7, r15); r7 = t;
        lo = FloatVector.fromArray(sp, lanes, 32); // sub-blocks of 4
        hi = FloatVector.fromArray(sp, lanes, 48);
        t = lo.selectFrom(r0, r4); r4 = hi.selectFrom(r0, r4); r0 = t;
        t = lo.selectFrom(r1, r5); r5 = hi.selectFrom(r1, r5); r1 = t;
        t = lo.selectFrom(r2, r6); r6 = hi.selectFrom(r2, r6); r2 = t;
        t = lo.selectFrom(r3, r7); r7 = hi.selectFrom(r3, r7); r3 = t;
        t = lo.selectFrom(r8, r12); r12 = hi.selectFrom(r8, r12); r8 = t;
        t = lo.selectFrom(r9, r13); r13 = hi.selectFrom(r9, r13); r9 = t;
        t = lo.selectFrom(r10, r14); r14 = hi.selectFrom(r10, r14); r10 = t;
        t = lo.selectFrom(r11, r15); r15 = hi.selectFrom(r11, r15); r11 = t;
        lo = FloatVector.fromArray(sp, lanes, 64); // sub-blocks of 2
        hi = FloatVector.fromArray(sp, lanes, 80);
        t = lo.selectFrom(r0, r2); r2 = hi.selectFrom(r0, r2); r0 = t;
        t = lo.selectFrom(r1, r3); r3 = hi.selectFrom(r1, r3); r1 = t;
        t = lo.selectFrom(r4, r6); r6 = hi.selectFrom(r4, r6); r4 = t;
        t = lo.selectFrom(r5, r7); r7 = hi.selectFrom(r5, r7); r5 = t;
        t = lo.selectFrom(r8, r10); r10 = hi.selectFrom(r8, r10); r8 = t;
        t = lo.selectFrom(r9, r11); r11 = hi.selectFrom(r9, r11); r9 = t;
        t = lo.selectFrom(r12, r14); r14 = hi.selectFrom(r12, r14); r12 = t;
        t = lo.selectFrom(r13, r15); r15 = hi.selectFrom(r13, r15); r13 = t;
        lo = FloatVector.fromArray(sp, lanes, 96); // sub-blocks of 1
        hi = FloatVector.fromArray(sp, lanes, 112);
        t = lo.selectFrom(r0, r1); r1 = hi.selectFrom(r0, r1); r0 = t;
        t = lo.selectFrom(r2, r3); r3 = hi.selectFrom(r2, r3); r2 = t;
        t = lo.selectFrom(r4, r5); r5 = hi.selectFrom(r4, r5); r4 = t;
        t = lo.selectFrom(r6, r7); r7 = hi.selectFrom(r6, r7); r6 = t;
        t = lo.selectFrom(r8, r9); r9 = hi.selectFrom(r8, r9); r8 = t;
        t = lo.selectFrom(r10, r11); r11 = hi.selectFrom(r10, r11); r10 = t;
        t = lo.selectFrom(r12, r13); r13 = hi.selectFrom(r12, r13); r12 = t;
        t = lo.selectFrom(r14, r15); r15 = hi.selectFrom(r14, r15); r14 = t;
        r0.intoArray(yt, to + 0 * nr); r1.intoArray(yt, to + 1 * nr); r2.intoArray(yt, to + 2 * nr); r3.intoArray(yt, to + 3 * nr);
        r4.intoArray(yt, to + 4 * nr); r5.intoArray(yt, to + 5 * nr); r6.intoArray(yt, to + 6 * nr); r7.intoArray(yt, to + 7 * nr);
        r8.intoArray(yt, to + 8 * nr); r9.intoArray(yt, to + 9 * nr); r10.intoArray(yt, to + 10 * nr); r11.intoArray(yt, to + 11 * nr);
        r12.intoArray(yt, to + 12 * nr); r13.intoArray(yt, to + 13 * nr); r14.intoArray(yt, to + 14 * nr); r15.intoArray(yt, to + 15 * nr);
    }
}
