package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.ArrayList;
import java.util.List;

/**
 * Normalisation of an f32 (or f64) tensor; every operand has that dtype.
 * <ul>
 * <li>{@code BATCH}: src is n x c x spatial; statistics per channel over n*spatial (biased variance);
 *     gamma and beta have c elements.</li>
 * <li>{@code LAYER}: src is n rows of c; statistics per row; gamma, beta have c elements; spatial = 1.</li>
 * <li>{@code RMS}: like LAYER with no mean and no beta: y = x * rstd * gamma, rstd = 1/sqrt(mean(x^2)+eps).</li>
 * </ul>
 * Modes: {@code TRAINING} reads SRC, GAMMA, BETA and writes DST plus the saved MEAN (not for RMS) and RSTD
 * = 1/sqrt(var+eps) (per channel for BATCH, per row otherwise). {@code INFERENCE} (BATCH only) reads SRC,
 * GAMMA, BETA and the running MEAN and VARIANCE and writes DST. {@code BACKWARD} reads SRC, GAMMA, the saved
 * MEAN (not RMS), RSTD and DIFF_DST, and writes DIFF_SRC, DIFF_GAMMA and DIFF_BETA (not RMS), of the
 * training-mode forward.
 */
public record NormDesc(NormKind norm, int n, int c, int spatial, double eps, Mode mode, DType dtype) implements OpDesc {
    public enum NormKind { BATCH, LAYER, RMS }

    public enum Mode { TRAINING, INFERENCE, BACKWARD }

    public NormDesc {
        Check.notNull("norm", "norm", norm);
        Check.notNull("norm", "mode", mode);
        String name = opNameOf(norm, mode);
        Check.f32OrF64(name, dtype);
        Check.positive(name, "n", n);
        Check.positive(name, "c", c);
        Check.positive(name, "spatial", spatial);
        Check.that(eps > 0 && Double.isFinite(eps), name, "eps must be a positive finite number, got " + eps);
        Check.that(norm == NormKind.BATCH || spatial == 1, name, "layer and RMS norm take rows of c (spatial must be 1, got " + spatial + ")");
        Check.that(norm == NormKind.BATCH || mode != Mode.INFERENCE, name, "inference mode is for batch norm only; layer and RMS norm use TRAINING");
        Check.mul(name, n, c, spatial);
    }

    public NormDesc(NormKind norm, int n, int c, int spatial, double eps, Mode mode) { this(norm, n, c, spatial, eps, mode, DType.F32); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public NormDesc withDType(DType dtype) { return new NormDesc(norm, n, c, spatial, eps, mode, dtype); }

    private static String opNameOf(NormKind norm, Mode mode) {
        String base = switch (norm) { case BATCH -> "batch_norm"; case LAYER -> "layer_norm"; case RMS -> "rms_norm"; };
        return base + switch (mode) { case TRAINING -> ""; case INFERENCE -> ".inference"; case BACKWARD -> ".bwd"; };
    }

    public long count() { return (long) n * c * spatial; }

    /** Number of statistics: channels for BATCH, rows otherwise. */
    public int stats() { return norm == NormKind.BATCH ? c : n; }

    @Override public OpKind kind() { return OpKind.NORM; }

    @Override public List<ArgSpec> args() {
        DType f = dtype;
        String all = "n*c*spatial=" + count();
        String st = norm == NormKind.BATCH ? "c=" + c : "n=" + n;
        boolean centred = norm != NormKind.RMS;
        List<ArgSpec> list = new ArrayList<>(7);
        list.add(ArgSpec.in(Arg.SRC, f, count(), all));
        list.add(ArgSpec.in(Arg.GAMMA, f, c, "c=" + c));
        switch (mode) {
            case TRAINING -> {
                if (centred) list.add(ArgSpec.in(Arg.BETA, f, c, "c=" + c));
                list.add(ArgSpec.out(Arg.DST, f, count(), all));
                if (centred) list.add(ArgSpec.out(Arg.MEAN, f, stats(), st));
                list.add(ArgSpec.out(Arg.RSTD, f, stats(), st));
            }
            case INFERENCE -> {
                list.add(ArgSpec.in(Arg.BETA, f, c, "c=" + c));
                list.add(ArgSpec.in(Arg.MEAN, f, c, "c=" + c));
                list.add(ArgSpec.in(Arg.VARIANCE, f, c, "c=" + c));
                list.add(ArgSpec.out(Arg.DST, f, count(), all));
            }
            case BACKWARD -> {
                if (centred) list.add(ArgSpec.in(Arg.MEAN, f, stats(), st));
                list.add(ArgSpec.in(Arg.RSTD, f, stats(), st));
                list.add(ArgSpec.in(Arg.DIFF_DST, f, count(), all));
                list.add(ArgSpec.out(Arg.DIFF_SRC, f, count(), all));
                list.add(ArgSpec.out(Arg.DIFF_GAMMA, f, c, "c=" + c));
                if (centred) list.add(ArgSpec.out(Arg.DIFF_BETA, f, c, "c=" + c));
            }
        }
        return List.copyOf(list);
    }

    @Override public double flops() { return 8.0 * count(); }

    @Override public String opName() { return opNameOf(norm, mode); }

    @Override public String shape() { return norm == NormKind.BATCH ? n + "x" + c + "x" + spatial : n + "x" + c; }
}
