package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reference f32 / f16 / bf16 conversions ({@link ConvertDesc}), one element at a time. The f16 rounding is
 * done on the value in double (exact for every f32), not on bit patterns, so it is easy to check by eye.
 */
public final class RefConvert {
    private RefConvert() {}

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    static void run(ConvertDesc d, Args args) {
        MemorySegment src = args.host(Arg.SRC), dst = args.host(Arg.DST);
        for (long i = 0; i < d.count(); i++) {
            if (d.from() == DType.F32) {
                float x = Mem.f(src, i);
                dst.setAtIndex(U16, i, d.to() == DType.F16 ? f32ToF16(x) : f32ToBf16(x));
            } else {
                short h = src.getAtIndex(U16, i);
                float x = d.from() == DType.F16 ? f16ToF32(h) : bf16ToF32(h);
                dst.setAtIndex(Mem.S32, i, Float.floatToRawIntBits(x));   // raw: a trip through double would touch NaNs
            }
        }
    }

    /** IEEE binary16 bits of {@code x}, rounded to nearest even; NaN: quiet, sign and top 10 payload bits kept. */
    public static short f32ToF16(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 16) & 0x8000;
        if (Float.isNaN(x)) return (short) (sign | 0x7E00 | ((bits >>> 13) & 0x3FF));
        if (Float.isInfinite(x)) return (short) (sign | 0x7C00);
        double a = Math.abs((double) x);
        if (a < 0x1p-14) return (short) (sign | (int) Math.rint(a * 0x1p24));        // subnormal: multiples of 2^-24
        int e = Math.getExponent(a);
        if (e > 15) return (short) (sign | 0x7C00);
        int m = (int) Math.rint(Math.scalb(a, 10 - e));                              // 1024..2048, 11 significant bits
        return (short) (sign | (((e + 15) << 10) + m - 1024));                        // m = 2048 carries into the exponent
    }

    /** The f32 value of IEEE binary16 bits {@code h} (exact); NaN: quiet, sign and payload kept. */
    public static float f16ToF32(short h) {
        int sign = h & 0x8000, e = (h >>> 10) & 0x1F, m = h & 0x3FF;
        if (e == 0x1F) return Float.intBitsToFloat((sign << 16) | (m == 0 ? 0x7F800000 : 0x7FC00000 | (m << 13)));
        double mag = e == 0 ? m * 0x1p-24 : Math.scalb(1024.0 + m, e - 25);
        return (float) (sign != 0 ? -mag : mag);
    }

    /** bfloat16 bits of {@code x}: the top 16 bits of the f32, rounded to nearest even; NaN: quiet, sign and top payload kept. */
    public static short f32ToBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) return (short) ((bits >>> 16) | 0x0040);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The f32 value of bfloat16 bits {@code h} (exact); NaN: made quiet, sign and payload kept. */
    public static float bf16ToF32(short h) {
        int bits = (h & 0xFFFF) << 16;
        return Float.intBitsToFloat((bits & 0x7FFFFFFF) > 0x7F800000 ? bits | 0x00400000 : bits);
    }
}
