package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;

/**
 * What one operand of an op must be: its role, element type, the minimum number of elements and whether
 * the kernel reads it, writes it or both. {@code rule} explains the count in the op's own terms, for error
 * messages ("m*k with lda=9").
 */
public record ArgSpec(Arg arg, DType dtype, long count, Access access, String rule) {
    public enum Access { IN, OUT, INOUT;
        public boolean reads() { return this != OUT; }
        public boolean writes() { return this != IN; }
    }

    public static ArgSpec in(Arg arg, DType dtype, long count, String rule) {
        return new ArgSpec(arg, dtype, count, Access.IN, rule);
    }

    public static ArgSpec out(Arg arg, DType dtype, long count, String rule) {
        return new ArgSpec(arg, dtype, count, Access.OUT, rule);
    }

    public static ArgSpec inout(Arg arg, DType dtype, long count, String rule) {
        return new ArgSpec(arg, dtype, count, Access.INOUT, rule);
    }
}
