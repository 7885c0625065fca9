package dev.kiln.cpu.quant;

import dev.kiln.cpu.Width;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.ref.RefQuantize;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The vector bodies of {@link VectorQuantize}: the descriptor's f32 arithmetic on whole vectors. Rounding to
 * nearest even is {@code v + 1.5*2^23 - 1.5*2^23} (exact for |v| &lt; 2^22, so v is first clamped to +-1024,
 * which changes no result: every grid lies within +-255); floor is that minus one where it rounded up.
 * s8/u8 outputs: each f32 vector narrows to a quarter-width byte vector. s4 (and any width without a
 * quarter-width byte species): four f32 vectors narrow into one byte vector (each conversion fills a
 * quarter, the four are OR-ed; correct, but C2 does not intrinsify conversions into a part, so slow), and
 * s4 pairs two bytes of it into one through a short view (little-endian: the even element is the low byte).
 * Each branch stores its own result: a vector merged from two branches would be boxed.
 */
final class QuantBlocks {
    private QuantBlocks() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final float MAGIC = 12582912f;   // 1.5 * 2^23
    private static final float LIMIT = 1024f;

    /**
     * Vector part of elements [from, to) sharing scale s and zero point z; returns where the scalar rest
     * starts. One method per loop: each compiles on its own, so C2's inlining budget covers its vector calls.
     */
    static long body(Width w, QuantizeDesc d, MemorySegment src, MemorySegment dst, long from, long to, float s, int z, int key) {
        boolean st = d.rounding() == QuantizeDesc.Rounding.STOCHASTIC, quarter = QSpecies.quarterBytes(w) != null;
        float zf = z, lo = d.qmin(), hi = d.qmax();
        if (d.mode() == Mode.FAKE && d.qtype() == DType.B1) return fakeBinary(w, src, dst, from, to, s, st, key);
        if (d.mode() == Mode.FAKE) return fake(w, src, dst, from, to, s, zf, lo, hi, st, key);
        if (d.mode() == Mode.QUANTIZE && d.qtype() != DType.S4 && quarter) return quantizeBytes(w, src, dst, from, to, s, zf, lo, hi, st, key);
        boolean wide = w.bits() == 512;
        if (d.mode() == Mode.QUANTIZE && d.qtype() == DType.S4 && wide) return quantizeNibbles(w, src, dst, from, to, s, zf, lo, hi, st, key);
        if (d.mode() == Mode.DEQUANTIZE && d.qtype() == DType.S4 && wide) return dequantizeNibbles(w, src, dst, from, to, s, zf);
        if (d.mode() == Mode.QUANTIZE) return quantizePacked(w, src, dst, from, to, s, zf, lo, hi, st, key, d.qtype() == DType.S4);
        if (d.qtype() != DType.S4 && quarter) return dequantizeBytes(w, src, dst, from, to, s, zf, d.qtype() == DType.U8);
        return dequantizePacked(w, src, dst, from, to, s, zf, d.qtype());
    }

    private static long fakeBinary(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, boolean st, int key) {
        var fs = w.floats();
        int l = fs.length();
        FloatVector pos = FloatVector.broadcast(fs, s), neg = FloatVector.broadcast(fs, -s);
        for (; i <= to - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(fs, src, i * 4, NATIVE);
            if (st) neg.blend(pos, uniform(w, i, key).compare(VectorOperators.LT, x.add(1f).mul(0.5f))).intoMemorySegment(dst, i * 4, NATIVE);
            else neg.blend(pos, x.compare(VectorOperators.GE, 0f)).intoMemorySegment(dst, i * 4, NATIVE);
        }
        return i;
    }

    private static long fake(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, float lo, float hi, boolean st, int key) {
        var fs = w.floats();
        int l = fs.length();
        for (; i <= to - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(fs, src, i * 4, NATIVE);
            if (st) stochastic(x, uniform(w, i, key), s, zf, lo, hi).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
            else nearest(x, s, zf, lo, hi).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
        }
        return i;
    }

    /** s8/u8: each f32 vector narrows (through s32) to its own quarter-width byte vector. */
    private static long quantizeBytes(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, float lo, float hi,
                                      boolean st, int key) {
        var fs = w.floats();
        var qb = QSpecies.quarterBytes(w);
        int l = fs.length();
        for (; i <= to - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(fs, src, i * 4, NATIVE);
            if (st) stochastic(x, uniform(w, i, key), s, zf, lo, hi).convert(VectorOperators.F2I, 0)
                    .convertShape(VectorOperators.I2B, qb, 0).intoMemorySegment(dst, i, NATIVE);
            else nearest(x, s, zf, lo, hi).convert(VectorOperators.F2I, 0).convertShape(VectorOperators.I2B, qb, 0).intoMemorySegment(dst, i, NATIVE);
        }
        return i;
    }

    /**
     * s4 at 512 bits without part conversions: the 16 s32 lanes of one vector, seen as 8 longs, hold one
     * element pair each (even in the low half); (even &amp; 0xF) | (odd &amp; 0xF) &lt;&lt; 4 is formed in the long and
     * narrowed to 8 bytes (vpmovqb). The four-vector path below ran 0.7 GB/s: C2 does not intrinsify its
     * conversions into parts -1..-3.
     */
    private static long quantizeNibbles(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, float lo, float hi,
                                        boolean st, int key) {
        var fs = FloatVector.SPECIES_512; // the caller checked the width: constants, not QSpecies/Width look-ups
        int l = fs.length();
        for (; i <= to - l; i += l) {
            FloatVector x = FloatVector.fromMemorySegment(fs, src, i * 4, NATIVE);
            FloatVector q = st ? stochastic(x, uniform(w, i, key), s, zf, lo, hi) : nearest(x, s, zf, lo, hi);
            LongVector pairs = ((IntVector) q.convert(VectorOperators.F2I, 0)).reinterpretAsLongs();
            pairs = pairs.and(0xFL).or(pairs.lanewise(VectorOperators.LSHR, 28).and(0xF0L));
            pairs.convertShape(VectorOperators.L2B, ByteVector.SPECIES_64, 0).intoMemorySegment(dst, i >> 1, NATIVE);
        }
        return i;
    }

    /**
     * s4 at 512 bits: 8 bytes widened to 8 longs (vpmovsxbq), each long's two signed nibbles placed as the two
     * s32 halves (low nibble in the low half), so the long vector reinterpreted is 16 s32 elements in order.
     */
    private static long dequantizeNibbles(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf) {
        var fs = FloatVector.SPECIES_512; // the caller checked the width: constants, not QSpecies/Width look-ups
        int l = fs.length();
        for (; i <= to - l; i += l) {
            LongVector b = (LongVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_64, src, i >> 1, NATIVE)
                    .convertShape(VectorOperators.B2L, LongVector.SPECIES_512, 0);
            LongVector low = b.lanewise(VectorOperators.LSHL, 60).lanewise(VectorOperators.ASHR, 60).and(0xFFFFFFFFL);
            LongVector high = b.lanewise(VectorOperators.LSHL, 56).lanewise(VectorOperators.ASHR, 60).lanewise(VectorOperators.LSHL, 32);
            ((FloatVector) low.or(high).reinterpretAsInts().convert(VectorOperators.I2F, 0)).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
        }
        return i;
    }

    /** Whether {@link #nibbleGroups} takes a task: s4 (de)quantisation by groups of whole 512-bit vectors. */
    static boolean nibbleGroups(Width w, QuantizeDesc d) {
        return w.bits() == 512 && d.qtype() == DType.S4 && d.mode() != Mode.FAKE
                && d.granularity() == QuantizeDesc.Granularity.GROUP && d.groupSize() % w.floats().length() == 0;
    }

    /**
     * Elements [from, to) (from a multiple of 16) of an s4 (de)quantisation by groups: the groups walked here
     * with their scales, each through the nibble loop, and only a tail past the last whole vector (the
     * tensor's end) left to the caller's scalar path, returned as where it starts. Per group, the general
     * path's run bookkeeping and dispatch cost more than the group's two vectors.
     */
    static long nibbleGroups(Width w, QuantizeDesc d, MemorySegment src, MemorySegment dst, long from, long to, float[] scales, int[] zeros,
                             int key) {
        int gs = d.groupSize();
        boolean st = d.rounding() == QuantizeDesc.Rounding.STOCHASTIC, quantize = d.mode() == Mode.QUANTIZE;
        float lo = d.qmin(), hi = d.qmax();
        int g = (int) (from / gs);
        long i = from;
        while (i < to) {
            long end = Math.min(to, (long) (g + 1) * gs);
            long at = quantize ? quantizeNibbles(w, src, dst, i, end, scales[g], zeros[g], lo, hi, st, key)
                               : dequantizeNibbles(w, src, dst, i, end, scales[g], zeros[g]);
            if (at < end) return at;
            i = end;
            g++;
        }
        return i;
    }

    /** s4 (and s8/u8 at widths without a quarter-width byte species): four f32 vectors into one byte vector. */
    private static long quantizePacked(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, float lo, float hi,
                                       boolean st, int key, boolean s4) {
        var fs = w.floats();
        var bs = QSpecies.bytes(w);
        int l = fs.length();
        for (; i <= to - 4L * l; i += 4L * l) {
            FloatVector x0 = FloatVector.fromMemorySegment(fs, src, i * 4, NATIVE), x1 = FloatVector.fromMemorySegment(fs, src, (i + l) * 4, NATIVE);
            FloatVector x2 = FloatVector.fromMemorySegment(fs, src, (i + 2L * l) * 4, NATIVE), x3 = FloatVector.fromMemorySegment(fs, src, (i + 3L * l) * 4, NATIVE);
            if (st) {
                ByteVector q = bytes(bs, stochastic(x0, uniform(w, i, key), s, zf, lo, hi), stochastic(x1, uniform(w, i + l, key), s, zf, lo, hi),
                        stochastic(x2, uniform(w, i + 2L * l, key), s, zf, lo, hi), stochastic(x3, uniform(w, i + 3L * l, key), s, zf, lo, hi));
                if (s4) nibbles(w, q).intoMemorySegment(dst, i >> 1, NATIVE);
                else q.intoMemorySegment(dst, i, NATIVE);
            } else {
                ByteVector q = bytes(bs, nearest(x0, s, zf, lo, hi), nearest(x1, s, zf, lo, hi), nearest(x2, s, zf, lo, hi), nearest(x3, s, zf, lo, hi));
                if (s4) nibbles(w, q).intoMemorySegment(dst, i >> 1, NATIVE);
                else q.intoMemorySegment(dst, i, NATIVE);
            }
        }
        return i;
    }

    /** s8/u8: one quarter-width byte vector per f32 vector, widened through s32 lanes. */
    private static long dequantizeBytes(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, boolean u8) {
        var qb = QSpecies.quarterBytes(w);
        var is = QSpecies.ints(w);
        int l = is.length();
        for (; i <= to - l; i += l) {
            IntVector q = (IntVector) ByteVector.fromMemorySegment(qb, src, i, NATIVE).convertShape(VectorOperators.B2I, is, 0);
            if (u8) ((FloatVector) q.and(0xFF).convert(VectorOperators.I2F, 0)).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
            else ((FloatVector) q.convert(VectorOperators.I2F, 0)).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
        }
        return i;
    }

    private static long dequantizePacked(Width w, MemorySegment src, MemorySegment dst, long i, long to, float s, float zf, DType qtype) {
        var fs = w.floats();
        var bs = QSpecies.bytes(w);
        int l = fs.length();
        boolean s4 = qtype == DType.S4;
        VectorMask<Float> unsigned = fs.maskAll(qtype == DType.U8);
        for (; i <= to - 4L * l; i += 4L * l) {
            if (s4) dequantised(w, unpackNibbles(w, ByteVector.fromMemorySegment(QSpecies.halfBytes(w), src, i >> 1, NATIVE)), unsigned, s, zf, dst, i);
            else dequantised(w, ByteVector.fromMemorySegment(bs, src, i, NATIVE), unsigned, s, zf, dst, i);
        }
        return i;
    }

    /** (q - z) * s for the 4 vectors of bytes in {@code q}, stored as f32 from element {@code i}. */
    private static void dequantised(Width w, ByteVector q, VectorMask<Float> unsigned, float s, float zf, MemorySegment dst, long i) {
        int l = w.floats().length();
        // constant parts: C2 only intrinsifies a conversion whose part is a compile-time constant
        dequantisedPart(w, q, 0, unsigned, s, zf, dst, i);
        dequantisedPart(w, q, 1, unsigned, s, zf, dst, i + l);
        dequantisedPart(w, q, 2, unsigned, s, zf, dst, i + 2L * l);
        dequantisedPart(w, q, 3, unsigned, s, zf, dst, i + 3L * l);
    }

    private static void dequantisedPart(Width w, ByteVector q, int part, VectorMask<Float> unsigned, float s, float zf, MemorySegment dst, long i) {
        FloatVector f = (FloatVector) q.convertShape(VectorOperators.B2F, w.floats(), part);
        f.lanewise(VectorOperators.ADD, 256f, f.compare(VectorOperators.LT, 0f).and(unsigned)).sub(zf).mul(s).intoMemorySegment(dst, i * 4, NATIVE);
    }

    /** clamp(rint(x / s) + z, lo, hi). */
    private static FloatVector nearest(FloatVector x, float s, float zf, float lo, float hi) {
        FloatVector v = x.div(s).max(-LIMIT).min(LIMIT);
        return v.add(MAGIC).sub(MAGIC).add(zf).max(lo).min(hi);
    }

    /** clamp(floor(x / s + u) + z, lo, hi). */
    private static FloatVector stochastic(FloatVector x, FloatVector u, float s, float zf, float lo, float hi) {
        FloatVector t = x.div(s).max(-LIMIT).min(LIMIT).add(u);
        FloatVector r = t.add(MAGIC).sub(MAGIC);
        return r.lanewise(VectorOperators.SUB, 1f, r.compare(VectorOperators.GT, t)).add(zf).max(lo).min(hi);
    }

    /** {@link RefQuantize#uniform} for the elements i .. i+lanes-1 (the key holds the seed and the index's high half). */
    private static FloatVector uniform(Width w, long i, int key) {
        IntVector h = IntVector.zero(QSpecies.ints(w)).addIndex(1).add((int) i).mul(0x9E3779B9).add(key);
        h = h.lanewise(VectorOperators.XOR, h.lanewise(VectorOperators.LSHR, 16)).mul(0x85EBCA6B);
        h = h.lanewise(VectorOperators.XOR, h.lanewise(VectorOperators.LSHR, 13)).mul(0xC2B2AE35);
        h = h.lanewise(VectorOperators.XOR, h.lanewise(VectorOperators.LSHR, 16));
        return ((FloatVector) h.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
    }

    /** Four vectors of small integral floats as one byte vector, in order. */
    private static ByteVector bytes(jdk.incubator.vector.VectorSpecies<Byte> bs, FloatVector q0, FloatVector q1, FloatVector q2, FloatVector q3) {
        ByteVector b = (ByteVector) q0.convertShape(VectorOperators.F2B, bs, 0);
        b = b.or((ByteVector) q1.convertShape(VectorOperators.F2B, bs, -1));
        b = b.or((ByteVector) q2.convertShape(VectorOperators.F2B, bs, -2));
        return b.or((ByteVector) q3.convertShape(VectorOperators.F2B, bs, -3));
    }

    /** Pairs of bytes (even element low) as one byte of two nibbles: half as many lanes. */
    private static ByteVector nibbles(Width w, ByteVector q) {
        ShortVector p = q.reinterpretAsShorts();
        p = p.and((short) 0x0F).or(p.lanewise(VectorOperators.LSHR, 4).and((short) 0xF0));
        return (ByteVector) p.convertShape(VectorOperators.S2B, QSpecies.halfBytes(w), 0);
    }

    /** Packed nibbles (half-width bytes) as one sign-extended byte per element, in order. */
    private static ByteVector unpackNibbles(Width w, ByteVector packed) {
        ShortVector p = (ShortVector) packed.convertShape(VectorOperators.B2S, QSpecies.shorts(w), 0);
        ShortVector low = p.lanewise(VectorOperators.LSHL, 12).lanewise(VectorOperators.ASHR, 12).and((short) 0xFF);
        ShortVector high = p.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 12).lanewise(VectorOperators.LSHL, 8);
        return low.or(high).reinterpretAsBytes();
    }

    /** Row {@code r} of a b1 quantisation: sign (or stochastic) bits, packed LSB first into whole bytes, padding 0. */
    static void binaryRow(Width w, QuantizeDesc d, MemorySegment src, MemorySegment dst, long r) {
        boolean st = d.rounding() == QuantizeDesc.Rounding.STOCHASTIC;
        int row = d.rowLength(), l = w.floats().length();
        long base = r * row, at = r * ((row + 7) / 8);
        int key = RefQuantize.key(d.seed(), base >>> 32);
        long acc = 0;
        int n = 0, j = 0;
        if (((base + row - 1) >>> 32) == (base >>> 32)) {                // the vector hash needs one key for the row
            for (; j <= row - l; j += l) {
                FloatVector x = FloatVector.fromMemorySegment(w.floats(), src, (base + j) * 4, NATIVE);
                long bits = st ? uniform(w, base + j, key).compare(VectorOperators.LT, x.add(1f).mul(0.5f)).toLong()
                               : x.compare(VectorOperators.GE, 0f).toLong();
                acc |= bits << n;
                n += l;
                for (; n >= 8; n -= 8, acc >>>= 8) dst.set(ValueLayout.JAVA_BYTE, at++, (byte) acc);
            }
        }
        for (; j < row; j++) {
            float x = src.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, base + j);
            long bit = RefQuantize.binarize(x, st, st ? RefQuantize.uniform(d.seed(), base + j) : 0) > 0 ? 1 : 0;
            acc |= bit << n;
            if (++n == 8) { dst.set(ValueLayout.JAVA_BYTE, at++, (byte) acc); acc = 0; n = 0; }
        }
        if (n > 0) dst.set(ValueLayout.JAVA_BYTE, at, (byte) acc);
    }
}
