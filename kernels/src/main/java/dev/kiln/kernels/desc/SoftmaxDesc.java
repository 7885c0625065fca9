package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Softmax (or log-softmax) along the middle axis of an outer x length x inner f32 tensor, computed stably
 * (the maximum is subtracted first). Backward reads DST (the forward output) and DIFF_DST, writes DIFF_SRC.
 */
public record SoftmaxDesc(int outer, int length, int inner, boolean log, Pass pass) implements OpDesc {
    public SoftmaxDesc {
        String name = log ? "log_softmax" : "softmax";
        Check.notNull(name, "pass", pass);
        Check.positive(name, "outer", outer);
        Check.positive(name, "length", length);
        Check.positive(name, "inner", inner);
        Check.mul(name, outer, length, inner);
    }

    /** Softmax over the last axis of rows x cols. */
    public static SoftmaxDesc rows(int rows, int cols, boolean log) { return new SoftmaxDesc(rows, cols, 1, log, Pass.FORWARD); }

    public long count() { return (long) outer * length * inner; }

    @Override public OpKind kind() { return OpKind.SOFTMAX; }

    @Override public DType dtype() { return DType.F32; }

    @Override public List<ArgSpec> args() {
        String rule = "outer*length*inner=" + count();
        return pass == Pass.FORWARD
                ? List.of(ArgSpec.in(Arg.SRC, DType.F32, count(), rule), ArgSpec.out(Arg.DST, DType.F32, count(), rule))
                : List.of(ArgSpec.in(Arg.DST, DType.F32, count(), rule), ArgSpec.in(Arg.DIFF_DST, DType.F32, count(), rule),
                          ArgSpec.out(Arg.DIFF_SRC, DType.F32, count(), rule));
    }

    @Override public double flops() { return 5.0 * count(); }

    @Override public String opName() { return (log ? "log_softmax" : "softmax") + pass.suffix(); }

    @Override public String shape() { return outer + "x[" + length + "]x" + inner; }
}
