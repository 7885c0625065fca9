package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reference quantisation ({@link QuantizeDesc}): two plain passes over the tensor in flat index order, the
 * first collecting each scale group's statistics (when the op computes its scales), the second quantising,
 * dequantising or both, element by element with the scalar functions below. The formulas and their f32
 * arithmetic are the descriptor's contract; the public functions here are that contract in code, shared
 * with the fast kernels' scalar tails and with tests.
 */
public final class RefQuantize {
    private RefQuantize() {}

    static void run(QuantizeDesc d, Args args) {
        int n = Math.toIntExact(d.scaleCount());
        float[] scales = new float[n];
        int[] zeros = new int[n];
        MemorySegment src = args.host(Arg.SRC), dst = args.host(Arg.DST);
        if (d.computeScales()) {
            computeScales(d, src, scales, zeros);
            for (int g = 0; g < n; g++) {
                Mem.f(args.host(Arg.SCALES), g, scales[g]);
                if (!d.symmetric()) Mem.i32(args.host(Arg.ZERO_POINTS), g, zeros[g]);
            }
        } else {
            for (int g = 0; g < n; g++) {
                scales[g] = Mem.f(args.host(Arg.SCALES), g);
                if (!d.symmetric()) zeros[g] = Mem.i32(args.host(Arg.ZERO_POINTS), g);
            }
        }
        boolean stochastic = d.rounding() == QuantizeDesc.Rounding.STOCHASTIC;
        int qmin = d.qmin(), qmax = d.qmax();
        for (long i = 0; i < d.count(); i++) {
            int g = scaleIndex(d, i);
            float s = scales[g];
            int z = zeros[g];
            if (d.mode() == Mode.DEQUANTIZE) {
                Mem.f(dst, i, dequantize(load(d, src, i), s, z));
                continue;
            }
            float x = Mem.f(src, i), u = stochastic ? uniform(d.seed(), i) : 0;
            int q = d.qtype() == DType.B1 ? binarize(x, stochastic, u) : quantize(x, s, z, qmin, qmax, stochastic, u);
            if (d.mode() == Mode.QUANTIZE) store(d, dst, i, q);
            else Mem.f(dst, i, dequantize(q, s, z));
        }
    }

    /** Which scale flat element {@code i} uses. */
    public static int scaleIndex(QuantizeDesc d, long i) {
        return switch (d.granularity()) {
            case TENSOR -> 0;
            case CHANNEL -> (int) (i / d.inner() % d.tensor().dim(d.axis()));
            case GROUP -> (int) (i / d.groupSize());
        };
    }

    private static void computeScales(QuantizeDesc d, MemorySegment src, float[] scales, int[] zeros) {
        int n = scales.length;
        float[] lo = new float[n], hi = new float[n];
        double[] sumAbs = new double[n];
        for (long i = 0; i < d.count(); i++) {
            int g = scaleIndex(d, i);
            float x = Mem.f(src, i);
            lo[g] = Math.min(lo[g], x);                 // both start at 0: the range always holds zero
            hi[g] = Math.max(hi[g], x);
            sumAbs[g] += Math.abs(x);
        }
        long perScale = d.count() / n;
        for (int g = 0; g < n; g++) {
            if (d.qtype() == DType.B1) scales[g] = meanScale(sumAbs[g], perScale);
            else if (d.symmetric()) scales[g] = symmetricScale(Math.max(-lo[g], hi[g]), d.qmax());
            else {
                scales[g] = asymmetricScale(lo[g], hi[g], d.qmin(), d.qmax());
                zeros[g] = zeroPoint(lo[g], scales[g], d.qmin(), d.qmax());
            }
        }
    }

    /** max|x| / qmax in f32; 1 for an all-zero group. */
    public static float symmetricScale(float absMax, int qmax) {
        float s = absMax / qmax;
        return s == 0 ? 1 : s;
    }

    /** (hi - lo) / (qmax - qmin) in f32, with lo &lt;= 0 &lt;= hi; 1 for an all-zero group. */
    public static float asymmetricScale(float lo, float hi, int qmin, int qmax) {
        float s = (hi - lo) / (float) (qmax - qmin);
        return s == 0 ? 1 : s;
    }

    /** clamp(qmin - rint(lo / s), qmin, qmax): the integer that dequantises to exactly 0. */
    public static int zeroPoint(float lo, float s, int qmin, int qmax) {
        float z = qmin - (float) Math.rint(lo / s);
        return (int) Math.min(Math.max(z, qmin), qmax);
    }

    /** The b1 scale: mean |x| (the sum in double) rounded to f32; 1 for an all-zero group. */
    public static float meanScale(double sumAbs, long elements) {
        float s = (float) (sumAbs / elements);
        return s == 0 ? 1 : s;
    }

    /** clamp(round(x / s) + z, qmin, qmax), all in f32; round is rint, or floor(v + u) when stochastic. */
    public static int quantize(float x, float s, int z, int qmin, int qmax, boolean stochastic, float u) {
        float v = x / s;
        float r = stochastic ? (float) Math.floor(v + u) : (float) Math.rint(v);
        float t = r + z;
        return (int) Math.min(Math.max(t, qmin), qmax);
    }

    /** +1 or -1: the sign (x &gt;= 0 gives +1), or +1 with probability clamp((x + 1) / 2, 0, 1) when stochastic. */
    public static int binarize(float x, boolean stochastic, float u) {
        return stochastic ? (u < (x + 1f) * 0.5f ? 1 : -1) : (x >= 0 ? 1 : -1);
    }

    /** (q - z) * s: the integer difference is exact in f32, then one rounding. */
    public static float dequantize(int q, float s, int z) { return (float) (q - z) * s; }

    /**
     * A uniform f32 in [0, 1) with 24 random bits, from a counter-based hash of (seed, index): the same
     * pair always gives the same number, whatever order or thread computes it.
     */
    public static float uniform(long seed, long index) { return (hash(seed, index) >>> 8) * 0x1p-24f; }

    /**
     * 32 hashed bits of (seed, index): the murmur3 32-bit finaliser of lo(index) * 0x9E3779B9 + key(seed,
     * hi(index)). Vector kernels compute the same from a lane iota (a multiply, an add, shifts, xors).
     */
    public static int hash(long seed, long index) { return mix32((int) index * 0x9E3779B9 + key(seed, index >>> 32)); }

    /** The per-seed (and per 2^32-element block) constant of {@link #hash}. */
    public static int key(long seed, long indexHigh) {
        long z = seed + indexHigh * 0x9E3779B97F4A7C15L;     // SplitMix64's finaliser spreads the seed's bits
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (int) (z ^ (z >>> 31));
    }

    /** murmur3's fmix32. */
    public static int mix32(int h) {
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >>> 16);
    }

    /** The integer stored for element {@code i} of a quantised operand. */
    public static int load(QuantizeDesc d, MemorySegment q, long i) {
        return switch (d.qtype()) {
            case S8 -> Mem.s8(q, i);
            case U8 -> Mem.u8(q, i);
            case S4 -> Mem.s4(q, i);
            default -> Mem.bit(q, bitIndex(d, i)) == 1 ? 1 : -1;
        };
    }

    /** Bit position of b1 element {@code i}: rows of the last dimension start on whole bytes. */
    public static long bitIndex(QuantizeDesc d, long i) {
        int row = d.rowLength();
        return i / row * 8L * ((row + 7) / 8) + i % row;
    }

    private static void store(QuantizeDesc d, MemorySegment q, long i, int v) {
        switch (d.qtype()) {
            case S8, U8 -> q.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            case S4 -> {
                byte old = q.get(ValueLayout.JAVA_BYTE, i >> 1);
                int b = (i & 1) == 0 ? (old & 0xF0) | (v & 0xF) : (old & 0x0F) | ((v & 0xF) << 4);
                q.set(ValueLayout.JAVA_BYTE, i >> 1, (byte) b);
            }
            default -> {
                long bit = bitIndex(d, i);
                if ((i + 1) % d.rowLength() == 0 || i + 1 == d.count()) clearPadding(d, q, i);
                byte old = q.get(ValueLayout.JAVA_BYTE, bit >> 3);
                int mask = 1 << (bit & 7);
                q.set(ValueLayout.JAVA_BYTE, bit >> 3, (byte) (v > 0 ? old | mask : old & ~mask));
            }
        }
    }

    /** Zeroes the padding bits after the last element of {@code i}'s row (when the row is not whole bytes). */
    private static void clearPadding(QuantizeDesc d, MemorySegment q, long i) {
        long bit = bitIndex(d, i) + 1;
        if ((bit & 7) == 0) return;
        byte old = q.get(ValueLayout.JAVA_BYTE, bit >> 3);
        q.set(ValueLayout.JAVA_BYTE, bit >> 3, (byte) (old & ((1 << (bit & 7)) - 1)));
    }
}
