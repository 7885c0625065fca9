package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * dst[i] = op(src[i]) over {@code count} f32 (or f64) elements. The backward pass reads SRC (the forward input) and
 * DIFF_DST and writes DIFF_SRC = DIFF_DST * op'(SRC).
 */
public record UnaryDesc(UnaryOp op, long count, Pass pass, DType dtype) implements OpDesc {
    public UnaryDesc {
        Check.notNull("unary", "op", op);
        Check.notNull("unary", "pass", pass);
        Check.nonNegative(opNameOf(op, pass), "count", count);
        Check.f32OrF64(opNameOf(op, pass), dtype);
        Check.that(count <= Long.MAX_VALUE / dtype.bits(), opNameOf(op, pass), "count=" + count + " " + dtype.lower()
                + " elements overflow a long byte size");
    }

    public UnaryDesc(UnaryOp op, long count, Pass pass) { this(op, count, pass, DType.F32); }

    public UnaryDesc(UnaryOp op, long count) { this(op, count, Pass.FORWARD); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public UnaryDesc withDType(DType dtype) { return new UnaryDesc(op, count, pass, dtype); }


    private static String opNameOf(UnaryOp op, Pass pass) { return op == null ? "unary" : op.lower() + (pass == null ? "" : pass.suffix()); }

    @Override public OpKind kind() { return OpKind.UNARY; }

    @Override public List<ArgSpec> args() {
        String rule = "count=" + count;
        return pass == Pass.FORWARD
                ? List.of(ArgSpec.in(Arg.SRC, dtype, count, rule), ArgSpec.out(Arg.DST, dtype, count, rule))
                : List.of(ArgSpec.in(Arg.SRC, dtype, count, rule), ArgSpec.in(Arg.DIFF_DST, dtype, count, rule),
                          ArgSpec.out(Arg.DIFF_SRC, dtype, count, rule));
    }

    @Override public double flops() { return count; }

    @Override public String opName() { return opNameOf(op, pass); }

    @Override public String shape() { return "count=" + count; }
}
