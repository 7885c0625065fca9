package dev.kiln.cpu.quant;

import dev.kiln.cpu.Width;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The integer species the low-bit kernels need, per {@link Width}. {@link Width} only offers f32 and f64;
 * these methods test {@link Width#bits()}, which C2 inlines to a constant in a normal run (one Width
 * subclass loaded), so the tests fold and every species stays a compile-time constant (see Width for why
 * that matters). Each method must stay within C2's MaxInlineSize (35 bytes of bytecode): a call outside a
 * loop is not "hot", a larger callee is then not inlined, the species is no longer constant and the
 * kernel runs boxed, 10 to 30 times slower (measured: a {@code switch} version was 48 bytes). {@link #halfBytes} is the byte species of half the width: its vectors widen to one full
 * short vector.
 */
final class QSpecies {
    private QSpecies() {}

    private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64, B128 = ByteVector.SPECIES_128, B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S128 = ShortVector.SPECIES_128, S256 = ShortVector.SPECIES_256, S512 = ShortVector.SPECIES_512;
    private static final VectorSpecies<Integer> I128 = IntVector.SPECIES_128, I256 = IntVector.SPECIES_256, I512 = IntVector.SPECIES_512;
    private static final VectorSpecies<Long> L128 = LongVector.SPECIES_128, L256 = LongVector.SPECIES_256, L512 = LongVector.SPECIES_512;

    static VectorSpecies<Byte> halfBytes(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? B256 : q == 2 ? B128 : B64;
    }

    /** Bytes with as many lanes as the width has floats (one byte per f32 lane); none at 128 bits (4 lanes). */
    static VectorSpecies<Byte> quarterBytes(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? B128 : q == 2 ? B64 : null;
    }

    /** Bytes of the full width (four bytes per f32 lane). */
    static VectorSpecies<Byte> bytes(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? ByteVector.SPECIES_512 : q == 2 ? B256 : B128;
    }

    static VectorSpecies<Short> shorts(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? S512 : q == 2 ? S256 : S128;
    }

    static VectorSpecies<Integer> ints(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? I512 : q == 2 ? I256 : I128;
    }

    /** Ints of half the width: as many lanes as {@link #longs}, the shape a long-to-int conversion gives. */
    static VectorSpecies<Integer> halfInts(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? I256 : q == 2 ? I128 : IntVector.SPECIES_64;
    }

    static VectorSpecies<Long> longs(Width w) {
        int q = w.bits() >> 7;
        return q == 4 ? L512 : q == 2 ? L256 : L128;
    }

    static VectorSpecies<Float> floats(Width w) { return w.floats(); }
}
