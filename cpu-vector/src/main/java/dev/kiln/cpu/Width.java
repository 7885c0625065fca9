package dev.kiln.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One vector width, handed to every vector kernel instead of a species.
 *
 * <p>Why not pass a {@link VectorSpecies}: C2 only turns Vector API calls into machine instructions when
 * the species is a compile-time constant; a species parameter is not, and the kernel then runs the
 * Java fallback about a hundred times slower. Kernels therefore call {@link #floats()} themselves: the
 * call site sees a single subclass in a normal run (only the chosen one is ever loaded), C2 inlines it and
 * gets a {@code static final} species, which is constant. Tests that use several widths in one JVM stay
 * correct but may run slower, so each forced-width test class gets its own JVM (see the pom).
 * Kernels must never pass the species (or build a helper that takes it) below this point.
 */
public abstract sealed class Width permits Width.W128, Width.W256, Width.W512 {
    Width() {}

    /** The f32 species of this width. */
    public abstract VectorSpecies<Float> floats();

    /** The f64 species of this width. */
    public abstract VectorSpecies<Double> doubles();

    public abstract int bits();

    /** The width of {@code bits} (128, 256 or 512); loads only that subclass. */
    public static Width of(int bits) {
        return switch (bits) {
            case 128 -> W128.INSTANCE;
            case 256 -> W256.INSTANCE;
            case 512 -> W512.INSTANCE;
            default -> throw new IllegalArgumentException("vector width must be 128, 256 or 512 bits, got " + bits);
        };
    }

    @Override public String toString() { return bits() + "-bit (" + floats() + ")"; }

    static final class W128 extends Width {
        static final W128 INSTANCE = new W128();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_128;
        private static final VectorSpecies<Double> D = DoubleVector.SPECIES_128;

        @Override public VectorSpecies<Float> floats() { return F; }

        @Override public VectorSpecies<Double> doubles() { return D; }

        @Override public int bits() { return 128; }
    }

    static final class W256 extends Width {
        static final W256 INSTANCE = new W256();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
        private static final VectorSpecies<Double> D = DoubleVector.SPECIES_256;

        @Override public VectorSpecies<Float> floats() { return F; }

        @Override public VectorSpecies<Double> doubles() { return D; }

        @Override public int bits() { return 256; }
    }

    static final class W512 extends Width {
        static final W512 INSTANCE = new W512();
        private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
        private static final VectorSpecies<Double> D = DoubleVector.SPECIES_512;

        @Override public VectorSpecies<Float> floats() { return F; }

        @Override public VectorSpecies<Double> doubles() { return D; }

        @Override public int bits() { return 512; }
    }
}
