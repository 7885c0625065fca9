package dev.kiln.cpu.norm;

import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The vector loops the norms share, over one contiguous run of f32 elements (offsets in elements).
 *
 * <p>Sums are taken in f32 lanes over blocks of {@value #BLOCK} elements and each block's lane sum (in lane
 * order, {@link Lanes#sum}) is added to a double, so the f32 error grows with the block, not with the run:
 * a row of a million elements is as accurate as one of four thousand. The scalar tails do the same
 * arithmetic as the lanes (fused multiply-adds where the lanes use them).
 */
final class NormSums {
    private NormSums() {}

    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Elements summed in f32 before the partial goes into a double; a multiple of every 2-vector step. */
    static final int BLOCK = 4096;

    /**
     * The sum of {@code x - shift} over {@code len} elements from {@code off}. Shifting by an element of the
     * set keeps the partial sums near the spread of the data, not its offset from zero, so a large mean
     * costs no accuracy.
     */
    static double sumShifted(Width w, MemorySegment x, long off, int len, float shift) {
        var s = w.floats();
        int l = s.length();
        FloatVector vs = FloatVector.broadcast(s, shift);
        double total = 0;
        for (int from = 0; from < len; from += BLOCK) {
            int end = Math.min(len, from + BLOCK), i = from;
            FloatVector a0 = FloatVector.zero(s), a1 = a0;
            for (; i <= end - 2 * l; i += 2 * l) {
                long at = (off + i) * 4;
                a0 = a0.add(FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vs));
                a1 = a1.add(FloatVector.fromMemorySegment(s, x, at + 4L * l, NATIVE).sub(vs));
            }
            float part = Lanes.sum(a0.add(a1));
            for (; i < end; i++) part += x.getAtIndex(F, off + i) - shift;
            total += part;
        }
        return total;
    }

    /** The sum of {@code (x - mean)^2} over {@code len} elements from {@code off} (mean 0: the sum of squares). */
    static double sumSquares(Width w, MemorySegment x, long off, int len, float mean) {
        var s = w.floats();
        int l = s.length();
        FloatVector vm = FloatVector.broadcast(s, mean);
        double total = 0;
        for (int from = 0; from < len; from += BLOCK) {
            int end = Math.min(len, from + BLOCK), i = from;
            FloatVector a0 = FloatVector.zero(s), a1 = a0;
            for (; i <= end - 2 * l; i += 2 * l) {
                long at = (off + i) * 4;
                FloatVector d0 = FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm);
                FloatVector d1 = FloatVector.fromMemorySegment(s, x, at + 4L * l, NATIVE).sub(vm);
                a0 = d0.fma(d0, a0);
                a1 = d1.fma(d1, a1);
            }
            float part = Lanes.sum(a0.add(a1));
            for (; i < end; i++) {
                float d = x.getAtIndex(F, off + i) - mean;
                part = Math.fma(d, d, part);
            }
            total += part;
        }
        return total;
    }

    /**
     * {@code y = (x - mean - meanLow) * scale + shift} over {@code len} elements from {@code off} (one batch-norm
     * channel run): {@code meanLow} is what the f32 mean dropped of the double one, so the output does not
     * carry the mean's rounding (large when the values sit far from zero and close together).
     */
    static void affine(Width w, MemorySegment x, MemorySegment y, long off, int len, float mean, float meanLow, float scale, float shift) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector vm = FloatVector.broadcast(s, mean), vl = FloatVector.broadcast(s, meanLow), va = FloatVector.broadcast(s, scale),
                vb = FloatVector.broadcast(s, shift);
        for (; i <= len - l; i += l) {
            long at = (off + i) * 4;
            FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm).sub(vl).fma(va, vb).intoMemorySegment(y, at, NATIVE);
        }
        for (; i < len; i++) y.setAtIndex(F, off + i, Math.fma(x.getAtIndex(F, off + i) - mean - meanLow, scale, shift));
    }

    /**
     * Adds {@code sum dy} to {@code acc[0]} and {@code sum dy * (x - mean)} to {@code acc[1]} over {@code len}
     * elements from {@code off} (one batch-norm channel run of the backward pass).
     */
    static void centredDot(Width w, MemorySegment x, MemorySegment dy, long off, int len, float mean, double[] acc) {
        var s = w.floats();
        int l = s.length();
        FloatVector vm = FloatVector.broadcast(s, mean);
        for (int from = 0; from < len; from += BLOCK) {
            int end = Math.min(len, from + BLOCK), i = from;
            FloatVector sd = FloatVector.zero(s), sdx = sd;
            for (; i <= end - l; i += l) {
                long at = (off + i) * 4;
                FloatVector d = FloatVector.fromMemorySegment(s, dy, at, NATIVE);
                sd = sd.add(d);
                sdx = d.fma(FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm), sdx);
            }
            float pd = Lanes.sum(sd), pdx = Lanes.sum(sdx);
            for (; i < end; i++) {
                float d = dy.getAtIndex(F, off + i);
                pd += d;
                pdx = Math.fma(d, x.getAtIndex(F, off + i) - mean, pdx);
            }
            acc[0] += pd;
            acc[1] += pdx;
        }
    }

    /** {@code dx = (x - mean) * b + (dy * a + c0)} over {@code len} elements from {@code off} (batch-norm backward). */
    static void batchDx(Width w, MemorySegment x, MemorySegment dy, MemorySegment dx, long off, int len, float mean, float a, float b, float c0) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector vm = FloatVector.broadcast(s, mean), va = FloatVector.broadcast(s, a), vb = FloatVector.broadcast(s, b),
                vc = FloatVector.broadcast(s, c0);
        for (; i <= len - l; i += l) {
            long at = (off + i) * 4;
            FloatVector g = FloatVector.fromMemorySegment(s, dy, at, NATIVE).fma(va, vc);
            FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm).fma(vb, g).intoMemorySegment(dx, at, NATIVE);
        }
        for (; i < len; i++)
            dx.setAtIndex(F, off + i, Math.fma(x.getAtIndex(F, off + i) - mean, b, Math.fma(dy.getAtIndex(F, off + i), a, c0)));
    }
}
