package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * dst[i] = op(src[i]) over {@code count} f32 elements. The backward pass reads SRC (the forward input) and
 * DIFF_DST and writes DIFF_SRC = DIFF_DST * op'(SRC).
 */
public record UnaryDesc(UnaryOp op, long count, Pass pass) implements OpDesc {
    public UnaryDesc {
        Check.notNull("unary", "op", op);
        Check.notNull("unary", "pass", pass);
        Check.nonNegative(opNameOf(op, pass), "count", count);
        Check.that(count <= Long.MAX_VALUE / 32, opNameOf(op, pass), "count=" + count + " f32 elements overflow a long byte size");
    }

    public UnaryDesc(UnaryOp op, long count) { this(op, count, Pass.FORWARD); }

    private static String opNameOf(UnaryOp op, Pass pass) { return op == null ? "unary" : op.lower() + (pass == null ? "" : pass.suffix()); }

    @Override public OpKind kind() { return OpKind.UNARY; }

    @Override public DType dtype() { return DType.F32; }

    @Override public List<ArgSpec> args() {
        String rule = "count=" + count;
        return pass == Pass.FORWARD
                ? List.of(ArgSpec.in(Arg.SRC, DType.F32, count, rule), ArgSpec.out(Arg.DST, DType.F32, count, rule))
                : List.of(ArgSpec.in(Arg.SRC, DType.F32, count, rule), ArgSpec.in(Arg.DIFF_DST, DType.F32, count, rule),
                          ArgSpec.out(Arg.DIFF_SRC, DType.F32, count, rule));
    }

    @Override public double flops() { return count; }

    @Override public String opName() { return opNameOf(op, pass); }

    @Override public String shape() { return "count=" + count; }
}
