package dev.kiln.kernels.ref;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Element access by index for the reference kernels (unaligned layouts: any segment works). */
final class Mem {
    private Mem() {}

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    static final ValueLayout.OfInt S32 = ValueLayout.JAVA_INT_UNALIGNED;

    static float f(MemorySegment s, long i) { return s.getAtIndex(F32, i); }

    static void f(MemorySegment s, long i, double v) { s.setAtIndex(F32, i, (float) v); }

    /** Element {@code i} of a floating-point segment of dtype {@code t} (f32 or f64), widened to double. */
    static double f(dev.kiln.kernels.DType t, MemorySegment s, long i) {
        return t == dev.kiln.kernels.DType.F64 ? s.getAtIndex(F64, i) : s.getAtIndex(F32, i);
    }

    /** Stores {@code v} as element {@code i} of dtype {@code t}: exactly for f64, rounded to nearest for f32. */
    static void f(dev.kiln.kernels.DType t, MemorySegment s, long i, double v) {
        if (t == dev.kiln.kernels.DType.F64) s.setAtIndex(F64, i, v);
        else s.setAtIndex(F32, i, (float) v);
    }

    static double d(MemorySegment s, long i) { return s.getAtIndex(F64, i); }

    static void d(MemorySegment s, long i, double v) { s.setAtIndex(F64, i, v); }

    static int i32(MemorySegment s, long i) { return s.getAtIndex(S32, i); }

    static void i32(MemorySegment s, long i, int v) { s.setAtIndex(S32, i, v); }

    static byte s8(MemorySegment s, long i) { return s.get(ValueLayout.JAVA_BYTE, i); }

    static int u8(MemorySegment s, long i) { return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i)); }

    /** Signed 4-bit element {@code i}, two per byte, low nibble first. */
    static int s4(MemorySegment s, long i) {
        int b = s.get(ValueLayout.JAVA_BYTE, i >> 1);
        int nib = (i & 1) == 0 ? b & 0xF : (b >> 4) & 0xF;
        return nib >= 8 ? nib - 16 : nib;
    }

    /** Bit {@code i}, eight per byte, least significant first. */
    static int bit(MemorySegment s, long i) { return (s.get(ValueLayout.JAVA_BYTE, i >> 3) >> (i & 7)) & 1; }
}
