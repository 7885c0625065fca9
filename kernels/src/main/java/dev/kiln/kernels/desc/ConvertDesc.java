package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Element type conversion of {@code count} elements, SRC {@code from} to DST {@code to}: f32 to f16 or bf16
 * and back. f32 to f16 rounds to nearest even, with gradual underflow to f16 subnormals (and to a signed
 * zero below half the smallest), overflow to infinity (from 65520 up, the first value that rounds past the
 * largest finite 65504); f32 to bf16 rounds to nearest even (overflow to infinity likewise). f16 and bf16 to
 * f32 are exact for numbers. NaNs stay NaNs of the same sign, made quiet, keeping the top payload bits that fit.
 */
public record ConvertDesc(DType from, DType to, long count) implements OpDesc {
    public ConvertDesc {
        Check.notNull("convert", "from", from);
        Check.notNull("convert", "to", to);
        String name = nameOf(from, to);
        boolean ok = from == DType.F32 ? to == DType.F16 || to == DType.BF16 : (from == DType.F16 || from == DType.BF16) && to == DType.F32;
        Check.that(ok, name, "converts f32 to f16 or bf16 and back, not " + from.lower() + " to " + to.lower());
        Check.nonNegative(name, "count", count);
        Check.that(count <= Long.MAX_VALUE / 32, name, "count=" + count + " elements overflow a long byte size");
    }

    private static String nameOf(DType from, DType to) {
        return "convert" + (from == null || to == null ? "" : "." + from.lower() + "-" + to.lower());
    }

    @Override public OpKind kind() { return OpKind.CONVERT; }

    @Override public DType dtype() { return from == DType.F32 ? to : from; }

    @Override public List<ArgSpec> args() {
        String rule = "count=" + count;
        return List.of(ArgSpec.in(Arg.SRC, from, count, rule), ArgSpec.out(Arg.DST, to, count, rule));
    }

    @Override public double flops() { return count; }

    @Override public String opName() { return nameOf(from, to); }

    @Override public String shape() { return "count=" + count; }
}
