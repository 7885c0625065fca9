package dev.kiln.kernels.verify;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Granularity;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Parity cases and operands for {@link QuantizeDesc} and {@link ConvertDesc}. Quantisation inputs include
 * zeros and exact ties (values on half steps of power-of-two scales), given scales small enough that some
 * values clamp, and zero points across the grid; conversion inputs include every class of f32 that rounds
 * differently to f16 (subnormal results, halfway cases, overflow near 65520, infinities and NaNs).
 */
final class QuantCases {
    private QuantCases() {}

    private static final Shape[] SHAPES = {Shape.of(1), Shape.of(7), Shape.of(3, 33), Shape.of(2, 5, 7), Shape.of(13, 64),
            Shape.of(4, 3, 128), Shape.of(257), Shape.of(1000), Shape.of(17, 96), Shape.of(5, 32), Shape.of(2, 3, 9, 31),
            Shape.of(31, 130), Shape.of(63, 17), Shape.of(9, 256)};
    private static final DType[] QTYPES = {DType.S8, DType.U8, DType.S4, DType.B1};

    static List<OpDesc> quantize() {
        List<OpDesc> list = new ArrayList<>();
        Mode[] modes = Mode.values();
        for (int i = 0; i < 48; i++) {
            Mode mode = modes[i % 3];
            DType q = QTYPES[(i / 3) % 4];
            Shape shape = SHAPES[i % SHAPES.length];
            QuantizeDesc d = QuantizeDesc.of(mode, q, shape);
            d = switch ((i / 12 + i) % 3) {
                case 0 -> d;
                case 1 -> d.perChannel((i / 2) % shape.rank());
                default -> d.perGroup(group(shape.dim(shape.rank() - 1), i));
            };
            if (q == DType.S8 || q == DType.S4) d = d.withSymmetric(i % 2 == 0);
            if (i % 4 >= 2) d = d.stochastic(1000 + i);
            if (mode != Mode.DEQUANTIZE) d = d.withComputedScales(i % 5 < 3);
            list.add(d);
        }
        list.add(QuantizeDesc.of(Mode.FAKE, DType.S4, Shape.of(96, 1024)).perGroup(128).withSymmetric(false).stochastic(7));
        return list;
    }

    /** 32, 64 or 128 where they divide the last dimension, else a small divisor of it (or itself). */
    private static int group(int last, int i) {
        int[] preferred = {32, 64, 128};
        for (int k = 0; k < 3; k++) if (last % preferred[(i + k) % 3] == 0) return preferred[(i + k) % 3];
        for (int g = 2; g <= 7; g++) if (last % g == 0) return g;
        return last;
    }

    private static final int[] COUNTS = {1, 2, 3, 7, 13, 17, 31, 33, 63, 127, 257, 1000, 4099};

    static List<OpDesc> convert() {
        DType[][] pairs = {{DType.F32, DType.F16}, {DType.F16, DType.F32}, {DType.F32, DType.BF16}, {DType.BF16, DType.F32}};
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < COUNTS.length; i++)
            for (int p = 0; p < pairs.length; p++) if ((i + p) % 2 == 0 || i > 8) list.add(new ConvertDesc(pairs[p][0], pairs[p][1], COUNTS[i]));
        list.add(new ConvertDesc(DType.F32, DType.F16, 65537));
        return list;
    }

    /** Replaces the generic random inputs with ones that exercise the op's edge cases. */
    static void fill(OpDesc desc, Map<Arg, HostBuffer> in, SplittableRandom rnd) {
        switch (desc) {
            case QuantizeDesc q -> {
                if (q.mode() != Mode.DEQUANTIZE) sources(in.get(Arg.SRC).hostSegment(), q.count(), rnd);
                if (!q.computeScales()) {
                    scales(q, in.get(Arg.SCALES).hostSegment(), rnd);
                    if (!q.symmetric()) {
                        MemorySegment z = in.get(Arg.ZERO_POINTS).hostSegment();
                        for (long g = 0; g < q.scaleCount(); g++) z.setAtIndex(ValueLayout.JAVA_INT, g, rnd.nextInt(q.qmin(), q.qmax() + 1));
                    }
                }
            }
            case QGemmDesc q when q.out() == DType.S8 -> { // multipliers that put most requantised results inside [-128, 127]
                MemorySegment sa = in.get(Arg.SRC_SCALES).hostSegment(), sb = in.get(Arg.SCALES).hostSegment();
                for (long i = 0; i < q.m(); i++) sa.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble(0.5, 1.5) / (128 * Math.sqrt(q.k()))));
                for (long j = 0; j < q.n(); j++) sb.setAtIndex(ValueLayout.JAVA_FLOAT, j, (float) ((rnd.nextBoolean() ? 1 : -1) * rnd.nextDouble(0.2, 1)));
            }
            case ConvertDesc c when c.from() == DType.F32 -> {
                MemorySegment s = in.get(Arg.SRC).hostSegment();
                for (long i = 0; i < c.count(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, awkwardFloat(rnd));
            }
            default -> { }
        }
    }

    /** Values in +-5 of several kinds: uniform, zero, multiples of 1/256 (exact halves of power-of-two scales), tiny. */
    private static void sources(MemorySegment x, long count, SplittableRandom rnd) {
        for (long i = 0; i < count; i++) {
            float v = switch (rnd.nextInt(8)) {
                case 0 -> 0f;
                case 1, 2 -> (rnd.nextInt(-640, 640) + 0.5f) / 128f;
                case 3 -> (float) rnd.nextDouble(-1e-6, 1e-6);
                default -> (float) rnd.nextDouble(-5, 5);
            };
            x.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
        }
    }

    /** Positive scales, half of them powers of two, small enough that values of +-5 clamp on some. */
    private static void scales(QuantizeDesc q, MemorySegment s, SplittableRandom rnd) {
        boolean narrow = q.qtype() == DType.S4 || q.qtype() == DType.B1;
        for (long g = 0; g < q.scaleCount(); g++) {
            float v = rnd.nextBoolean() ? (float) Math.scalb(1.0, -rnd.nextInt(narrow ? 0 : 4, narrow ? 3 : 7))
                                        : (float) rnd.nextDouble(narrow ? 0.1 : 0.005, narrow ? 1.2 : 0.06);
            s.setAtIndex(ValueLayout.JAVA_FLOAT, g, v);
        }
    }

    /** An f32 from one of the classes f32-to-f16 rounds differently. */
    private static float awkwardFloat(SplittableRandom rnd) {
        float sign = rnd.nextBoolean() ? 1 : -1;
        return switch (rnd.nextInt(10)) {
            case 0 -> Float.intBitsToFloat(rnd.nextInt());                                     // anything, NaNs included
            case 1 -> sign * (float) Math.scalb(rnd.nextDouble(1, 2), rnd.nextInt(-26, -13));  // f16 subnormal range
            case 2 -> sign * (rnd.nextInt(0, 2048) + 0.5f) * 0x1p-24f;                        // halfway between subnormals
            case 3 -> sign * (float) rnd.nextDouble(60000, 70000);                            // around the overflow point
            case 4 -> sign * (rnd.nextInt(1024, 2048) + 0.5f) * (float) Math.scalb(1.0, rnd.nextInt(-24, 6)); // f16 halfway
            case 5 -> sign * Float.intBitsToFloat((rnd.nextInt(0, 255) << 23) | (rnd.nextInt(1 << 7) << 16)   // bf16 halfway and beside
                    | new int[] {0x8000, 0x7FFF, 0x8001}[rnd.nextInt(3)]);
            case 6 -> rnd.nextInt(4) == 0 ? sign * Float.POSITIVE_INFINITY : sign * Float.MIN_VALUE * rnd.nextInt(1, 100);
            default -> (float) rnd.nextDouble(-4, 4);
        };
    }
}
