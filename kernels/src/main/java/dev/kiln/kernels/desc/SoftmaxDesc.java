package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Softmax (or log-softmax) along the middle axis of an outer x length x inner f32 (or f64) tensor, computed stably
 * (the maximum is subtracted first). Backward reads DST (the forward output) and DIFF_DST, writes DIFF_SRC.
 */
public record SoftmaxDesc(int outer, int length, int inner, boolean log, Pass pass, DType dtype) implements OpDesc {
    public SoftmaxDesc {
        String name = log ? "log_softmax" : "softmax";
        Check.notNull(name, "pass", pass);
        Check.f32OrF64(name, dtype);
        Check.positive(name, "outer", outer);
        Check.positive(name, "length", length);
        Check.positive(name, "inner", inner);
        Check.mul(name, outer, length, inner);
    }

    public SoftmaxDesc(int outer, int length, int inner, boolean log, Pass pass) { this(outer, length, inner, log, pass, DType.F32); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public SoftmaxDesc withDType(DType dtype) { return new SoftmaxDesc(outer, length, inner, log, pass, dtype); }

    /** Softmax over the last axis of rows x cols. */
    public static SoftmaxDesc rows(int rows, int cols, boolean log) { return new SoftmaxDesc(rows, cols, 1, log, Pass.FORWARD); }

    public long count() { return (long) outer * length * inner; }

    @Override public OpKind kind() { return OpKind.SOFTMAX; }

    @Override public List<ArgSpec> args() {
        String rule = "outer*length*inner=" + count();
        return pass == Pass.FORWARD
                ? List.of(ArgSpec.in(Arg.SRC, dtype, count(), rule), ArgSpec.out(Arg.DST, dtype, count(), rule))
                : List.of(ArgSpec.in(Arg.DST, dtype, count(), rule), ArgSpec.in(Arg.DIFF_DST, dtype, count(), rule),
                          ArgSpec.out(Arg.DIFF_SRC, dtype, count(), rule));
    }

    @Override public double flops() { return 5.0 * count(); }

    @Override public String opName() { return (log ? "log_softmax" : "softmax") + pass.suffix(); }

    @Override public String shape() { return outer + "x[" + length + "]x" + inner; }
}
