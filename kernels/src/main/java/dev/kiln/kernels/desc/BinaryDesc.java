package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * dst = op(src, src2) with numpy broadcasting of the two shapes; f32 (or f64). The backward pass reads SRC, SRC2 and
 * DIFF_DST (of the broadcast shape) and writes DIFF_SRC and DIFF_SRC2, each summed over the dimensions it
 * was broadcast along. For MAX/MIN a tie sends the gradient to SRC.
 */
public record BinaryDesc(BinaryOp op, Shape a, Shape b, Pass pass, DType dtype) implements OpDesc {
    public BinaryDesc {
        Check.notNull("binary", "op", op);
        Check.notNull("binary", "a", a);
        Check.notNull("binary", "b", b);
        Check.notNull("binary", "pass", pass);
        Check.f32OrF64(op.lower(), dtype);
        Shape out = Shape.broadcast(op.lower(), a, b);
        // args() computes element and byte counts; report their overflow here, at construction, naming the op.
        long most;
        try {
            most = Math.max(out.count(), Math.max(a.count(), b.count()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op.lower() + ": " + e.getMessage());
        }
        Check.that(most <= Long.MAX_VALUE / 32, op.lower(), "shapes " + a + " and " + b + " have " + most
                + " elements, more than a buffer's byte size can count");
    }

    public BinaryDesc(BinaryOp op, Shape a, Shape b, Pass pass) { this(op, a, b, pass, DType.F32); }

    public BinaryDesc(BinaryOp op, Shape a, Shape b) { this(op, a, b, Pass.FORWARD); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public BinaryDesc withDType(DType dtype) { return new BinaryDesc(op, a, b, pass, dtype); }


    public Shape out() { return Shape.broadcast(op.lower(), a, b); }

    @Override public OpKind kind() { return OpKind.BINARY; }

    @Override public List<ArgSpec> args() {
        DType f = dtype;
        Shape o = out();
        ArgSpec sa = ArgSpec.in(Arg.SRC, f, a.count(), "shape " + a);
        ArgSpec sb = ArgSpec.in(Arg.SRC2, f, b.count(), "shape " + b);
        return pass == Pass.FORWARD
                ? List.of(sa, sb, ArgSpec.out(Arg.DST, f, o.count(), "shape " + o))
                : List.of(sa, sb, ArgSpec.in(Arg.DIFF_DST, f, o.count(), "shape " + o),
                          ArgSpec.out(Arg.DIFF_SRC, f, a.count(), "shape " + a),
                          ArgSpec.out(Arg.DIFF_SRC2, f, b.count(), "shape " + b));
    }

    @Override public double flops() { return out().count(); }

    @Override public String opName() { return op.lower() + pass.suffix(); }

    @Override public String shape() { return a + " " + b; }
}
