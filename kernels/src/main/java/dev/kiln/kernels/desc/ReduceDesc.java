package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Reduces a tensor viewed as outer x length x inner along the middle axis: dst[o][i] = op over l of
 * src[o][l][i]. Any axis of any shape maps onto this view (outer = product of the dimensions before it,
 * inner = product after). SRC is f32 (or f64); DST has the same dtype, or s32 for ARGMAX.
 */
public record ReduceDesc(ReduceOp op, int outer, int length, int inner, DType dtype) implements OpDesc {
    public ReduceDesc {
        Check.notNull("reduce", "op", op);
        String name = "reduce." + op.lower();
        Check.f32OrF64(name, dtype);
        Check.positive(name, "outer", outer);
        Check.positive(name, "length", length);
        Check.positive(name, "inner", inner);
        Check.mul(name, outer, length, inner);
    }

    public ReduceDesc(ReduceOp op, int outer, int length, int inner) { this(op, outer, length, inner, DType.F32); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public ReduceDesc withDType(DType dtype) { return new ReduceDesc(op, outer, length, inner, dtype); }

    /** Reduction of {@code shape} along {@code axis}. */
    public static ReduceDesc along(ReduceOp op, Shape shape, int axis) {
        Check.that(axis >= 0 && axis < shape.rank(), "reduce", "axis " + axis + " out of range for shape " + shape);
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape.dim(i);
        for (int i = axis + 1; i < shape.rank(); i++) inner *= shape.dim(i);
        return new ReduceDesc(op, Check.toInt("reduce", "outer", outer), shape.dim(axis), Check.toInt("reduce", "inner", inner));
    }

    @Override public OpKind kind() { return OpKind.REDUCE; }

    @Override public List<ArgSpec> args() {
        return List.of(ArgSpec.in(Arg.SRC, dtype, (long) outer * length * inner, "outer*length*inner"),
                ArgSpec.out(Arg.DST, op == ReduceOp.ARGMAX ? DType.S32 : dtype, (long) outer * inner, "outer*inner"));
    }

    @Override public double flops() { return (double) outer * length * inner; }

    @Override public String opName() { return "reduce." + op.lower(); }

    @Override public String shape() { return outer + "x[" + length + "]x" + inner; }
}
