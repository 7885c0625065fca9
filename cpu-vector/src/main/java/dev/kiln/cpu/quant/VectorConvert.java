package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.ref.RefConvert;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * f32 to and from f16 / bf16 ({@link ConvertDesc}) on the bit patterns in int lanes, branch-free: every
 * class of input (normal, subnormal result, overflow, infinity, NaN) is computed for all lanes and the right
 * one blended in, giving exactly {@link RefConvert}'s bits. The f16 rounding uses the FPU: a subnormal
 * result is the low bits of |x| + 0.5f (the addition rounds to nearest even at 2^-24), a normal one adds
 * 0xFFF plus the lowest kept bit before shifting (round half to even on the bit pattern). Two int vectors
 * narrow into one short vector and back. Work is cut into fixed chunks of {@value #CHUNK} elements.
 */
public final class VectorConvert {
    private VectorConvert() {}

    static final int CHUNK = 1 << 14;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT_UNALIGNED;

    public static Support supports(ConvertDesc d) { return Support.YES; }

    public static void run(Width w, ConvertDesc d, Args a) {
        MemorySegment src = a.host(Arg.SRC), dst = a.host(Arg.DST);
        long count = d.count();
        int tasks = Math.toIntExact(Math.ceilDiv(count, CHUNK));
        CpuThreads.parallelFor(tasks, t -> {
            long from = (long) t * CHUNK;
            int len = (int) Math.min(CHUNK, count - from);
            if (d.to() == DType.F16) toF16(w, src, dst, from, len);
            else if (d.to() == DType.BF16) toBf16(w, src, dst, from, len);
            else if (d.from() == DType.F16) fromF16(w, src, dst, from, len);
            else fromBf16(w, src, dst, from, len);
        });
    }

    static void toF16(Width w, MemorySegment src, MemorySegment dst, long from, int len) {
        var is = QSpecies.ints(w);
        var ss = QSpecies.shorts(w);
        int l = is.length(), i = 0;
        for (; i <= len - 2 * l; i += 2 * l) {
            IntVector a = f16Bits(IntVector.fromMemorySegment(is, src, (from + i) * 4, NATIVE));
            IntVector b = f16Bits(IntVector.fromMemorySegment(is, src, (from + i + l) * 4, NATIVE));
            ShortVector h = (ShortVector) a.convertShape(VectorOperators.I2S, ss, 0);
            h.lanewise(VectorOperators.OR, (ShortVector) b.convertShape(VectorOperators.I2S, ss, -1))
                    .intoMemorySegment(dst, (from + i) * 2, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(H, from + i, RefConvert.f32ToF16(src.getAtIndex(F, from + i)));
    }

    /** binary16 bits (in the low 16 bits of each lane) of the f32 bit patterns {@code x}. */
    private static IntVector f16Bits(IntVector x) {
        IntVector sign = x.lanewise(VectorOperators.LSHR, 16).and(0x8000);
        IntVector f = x.and(0x7FFFFFFF);
        IntVector odd = f.lanewise(VectorOperators.LSHR, 13).and(1);
        IntVector normal = f.add(((15 - 127) << 23) + 0xFFF).add(odd).lanewise(VectorOperators.LSHR, 13);
        IntVector subnormal = f.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(0x3F000000);
        IntVector r = normal.blend(subnormal, f.compare(VectorOperators.LT, 113 << 23));
        r = r.blend(0x7C00, f.compare(VectorOperators.GE, 0x47800000));                  // 2^16 and up: infinity
        IntVector nan = f.lanewise(VectorOperators.LSHR, 13).and(0x3FF).or(0x7E00);
        return r.blend(nan, f.compare(VectorOperators.GT, 0x7F800000)).or(sign);
    }

    static void toBf16(Width w, MemorySegment src, MemorySegment dst, long from, int len) {
        var is = QSpecies.ints(w);
        var ss = QSpecies.shorts(w);
        int l = is.length(), i = 0;
        for (; i <= len - 2 * l; i += 2 * l) {
            IntVector a = bf16Bits(IntVector.fromMemorySegment(is, src, (from + i) * 4, NATIVE));
            IntVector b = bf16Bits(IntVector.fromMemorySegment(is, src, (from + i + l) * 4, NATIVE));
            ShortVector h = (ShortVector) a.convertShape(VectorOperators.I2S, ss, 0);
            h.lanewise(VectorOperators.OR, (ShortVector) b.convertShape(VectorOperators.I2S, ss, -1))
                    .intoMemorySegment(dst, (from + i) * 2, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(H, from + i, RefConvert.f32ToBf16(src.getAtIndex(F, from + i)));
    }

    private static IntVector bf16Bits(IntVector x) {
        IntVector high = x.lanewise(VectorOperators.LSHR, 16);
        IntVector rounded = x.add(high.and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = x.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
        return rounded.blend(high.or(0x40), nan);
    }

    static void fromF16(Width w, MemorySegment src, MemorySegment dst, long from, int len) {
        var is = QSpecies.ints(w);
        var ss = QSpecies.shorts(w);
        int l = is.length(), i = 0;
        for (; i <= len - 2 * l; i += 2 * l) {
            ShortVector h = ShortVector.fromMemorySegment(ss, src, (from + i) * 2, NATIVE);
            f32Bits((IntVector) h.convertShape(VectorOperators.S2I, is, 0)).intoMemorySegment(dst, (from + i) * 4, NATIVE);
            f32Bits((IntVector) h.convertShape(VectorOperators.S2I, is, 1)).intoMemorySegment(dst, (from + i + l) * 4, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(F, from + i, RefConvert.f16ToF32(src.getAtIndex(H, from + i)));
    }

    /** f32 bit patterns of the (sign-extended) binary16 lanes {@code h}. */
    private static IntVector f32Bits(IntVector h) {
        IntVector o = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector exp = o.and(0x0F800000);
        o = o.add((127 - 15) << 23);
        IntVector special = o.add((128 - 16) << 23);                                     // exponent all ones
        special = special.lanewise(VectorOperators.OR, 0x00400000, h.and(0x3FF).compare(VectorOperators.NE, 0));   // NaNs made quiet
        IntVector small = o.add(1 << 23).reinterpretAsFloats().sub(Float.intBitsToFloat(113 << 23)).reinterpretAsInts();
        o = o.blend(special, exp.compare(VectorOperators.EQ, 0x0F800000));
        o = o.blend(small, exp.compare(VectorOperators.EQ, 0));
        return o.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
    }

    private static IntVector quietNaNs(IntVector x) {
        return x.lanewise(VectorOperators.OR, 0x00400000, x.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000));
    }

    static void fromBf16(Width w, MemorySegment src, MemorySegment dst, long from, int len) {
        var is = QSpecies.ints(w);
        var ss = QSpecies.shorts(w);
        int l = is.length(), i = 0;
        for (; i <= len - 2 * l; i += 2 * l) {
            ShortVector h = ShortVector.fromMemorySegment(ss, src, (from + i) * 2, NATIVE);
            quietNaNs(((IntVector) h.convertShape(VectorOperators.S2I, is, 0)).lanewise(VectorOperators.LSHL, 16)).intoMemorySegment(dst, (from + i) * 4, NATIVE);
            quietNaNs(((IntVector) h.convertShape(VectorOperators.S2I, is, 1)).lanewise(VectorOperators.LSHL, 16)).intoMemorySegment(dst, (from + i + l) * 4, NATIVE);
        }
        for (; i < len; i++) dst.setAtIndex(F, from + i, RefConvert.bf16ToF32(src.getAtIndex(H, from + i)));
    }
}
