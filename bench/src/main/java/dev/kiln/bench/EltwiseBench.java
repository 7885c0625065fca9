package dev.kiln.bench;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cases of {@code kiln bench elementwise}: unary ops (relu, gelu, silu, sigmoid, tanh, exp, log, ...) and
 * binary ops (add, sub, mul, div, max, min) on n elements, plus {@code add-bias}, an add broadcasting a row of
 * 1024 over n/1024 rows (a layer's bias). The broadcast and axis shapes networks use, on n elements too:
 * {@code add-channel} (n/16384 x 64 x 16 x 16 plus a 1 x 64 x 1 x 1 per-channel operand), {@code mul-column}
 * (n/1024 x 1024 times an n/1024 x 1 column), {@code sum-axis0} and {@code max-axis0} (reducing n/1024 x 1024
 * over its rows: a bias gradient), {@code argmax} (of each 1024-row), {@code softmax} and {@code log-softmax}
 * (over 1024-rows) and {@code softmax-channel} (over the 64 channels of n/16384 x 64 x 256). Reductions have no
 * backward pass; asking for one skips them. These are memory-bound: rows are read by their GB/s of compulsory
 * traffic (every operand read once, every result written once) and its share of the measured copy bandwidth.
 * Each case is checked against the reference on 1031 elements (an odd count: vector body and tail), or a small
 * shape of the same layout.
 */
final class EltwiseBench {
    private EltwiseBench() {}

    static final String DEFAULT_OPS = "relu,gelu,exp,add,mul,add-bias";
    /** 1 Mi floats (4 MB an operand: near the caches) and 16 Mi (64 MB: main memory). */
    static final String DEFAULT_SIZES = "1048576,16777216";
    static final String DEFAULT_DIRECTIONS = "fwd,bwd";
    private static final int BIAS_ROW = 1024, CHECK_COUNT = 1031, CHANNELS = 64, PLANE = 256;
    private static final List<String> REDUCTIONS = List.of("sum-axis0", "max-axis0", "argmax");
    private static final List<String> SHAPED = List.of("add-channel", "mul-column", "sum-axis0", "max-axis0", "argmax", "softmax",
            "log-softmax", "softmax-channel");

    static List<OpBench.Case> cases(String ops, String sizes, String directions) {
        List<Long> counts = new ArrayList<>();
        for (String s : sizes.split(",")) {
            if (s.isBlank()) continue;
            try {
                long n = Long.parseLong(s.strip());
                if (n < 1 || n > Integer.MAX_VALUE) throw new NumberFormatException();
                counts.add(n);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bench elementwise: bad size '" + s.strip() + "' (an element count from 1 to 2^31-1)");
            }
        }
        List<Pass> passes = new ArrayList<>();
        for (String d : directions.split(",")) {
            switch (d.strip().toLowerCase(Locale.ROOT)) {
                case "" -> { }
                case "fwd" -> passes.add(Pass.FORWARD);
                case "bwd" -> passes.add(Pass.BACKWARD);
                default -> throw new IllegalArgumentException("bench elementwise: bad direction '" + d.strip() + "' (use fwd, bwd)");
            }
        }
        List<String> names = new ArrayList<>();
        for (String o : ops.split(",")) if (!o.isBlank()) names.add(o.strip().toLowerCase(Locale.ROOT));
        if (counts.isEmpty() || passes.isEmpty() || names.isEmpty())
            throw new IllegalArgumentException("bench elementwise: need at least one op, size and direction");
        List<OpBench.Case> cases = new ArrayList<>();
        for (String name : names)
            for (long n : counts)
                for (Pass p : passes) {
                    OpBench.Case c = of(name, (int) n, p);
                    if (c != null) cases.add(c);
                }
        if (cases.isEmpty()) throw new IllegalArgumentException("bench elementwise: reductions (" + String.join(", ", REDUCTIONS)
                + ") have no backward pass; ask for fwd");
        return cases;
    }

    private static OpBench.Case of(String name, int n, Pass pass) {
        String dir = pass == Pass.FORWARD ? "fwd" : "bwd";
        if (name.equals("add-bias")) {
            if (n % BIAS_ROW != 0)
                throw new IllegalArgumentException("bench elementwise: add-bias needs a size that is a multiple of " + BIAS_ROW + ", got " + n);
            return new OpBench.Case(name, (n / BIAS_ROW) + "x" + BIAS_ROW + "+" + BIAS_ROW, dir, bias(n / BIAS_ROW, BIAS_ROW, pass),
                    bias(7, 13, pass));
        }
        OpBench.Case shaped = shaped(name, n, pass, dir);
        if (shaped != null || REDUCTIONS.contains(name)) return shaped;
        String upper = name.toUpperCase(Locale.ROOT);
        for (UnaryOp u : UnaryOp.values())
            if (u.name().equals(upper)) return new OpBench.Case(name, Integer.toString(n), dir, new UnaryDesc(u, n, pass),
                    new UnaryDesc(u, CHECK_COUNT, pass));
        for (BinaryOp b : BinaryOp.values())
            if (b.name().equals(upper)) return new OpBench.Case(name, Integer.toString(n), dir, same(b, n, pass), same(b, CHECK_COUNT, pass));
        throw new IllegalArgumentException("bench elementwise: unknown op '" + name + "' (use add-bias, " + String.join(", ", SHAPED)
                + " or one of "
                + java.util.Arrays.toString(UnaryOp.values()).toLowerCase(Locale.ROOT) + " "
                + java.util.Arrays.toString(BinaryOp.values()).toLowerCase(Locale.ROOT) + ")");
    }

    /** Named cases with a fixed layout; null for a reduction's backward pass (skipped) or another name. */
    private static OpBench.Case shaped(String name, int n, Pass pass, String dir) {
        if (!SHAPED.contains(name)) return null;
        boolean channels = name.equals("add-channel") || name.equals("softmax-channel");
        int unit = channels ? CHANNELS * PLANE : BIAS_ROW;
        if (n % unit != 0)
            throw new IllegalArgumentException("bench elementwise: " + name + " needs a size that is a multiple of " + unit + ", got " + n);
        int rows = n / unit;
        if (REDUCTIONS.contains(name) && pass == Pass.BACKWARD) return null;
        return switch (name) {
            case "add-channel" -> new OpBench.Case(name, rows + "x" + CHANNELS + "x16x16+" + CHANNELS, dir,
                    new BinaryDesc(BinaryOp.ADD, Shape.of(rows, CHANNELS, 16, 16), Shape.of(1, CHANNELS, 1, 1), pass),
                    new BinaryDesc(BinaryOp.ADD, Shape.of(2, 3, 5, 7), Shape.of(1, 3, 1, 1), pass));
            case "mul-column" -> new OpBench.Case(name, rows + "x" + BIAS_ROW + "*" + rows + "x1", dir,
                    new BinaryDesc(BinaryOp.MUL, Shape.of(rows, BIAS_ROW), Shape.of(rows, 1), pass),
                    new BinaryDesc(BinaryOp.MUL, Shape.of(7, 13), Shape.of(7, 1), pass));
            case "sum-axis0", "max-axis0" -> {
                ReduceOp op = name.startsWith("sum") ? ReduceOp.SUM : ReduceOp.MAX;
                yield new OpBench.Case(name, "[" + rows + "]x" + BIAS_ROW, dir, new ReduceDesc(op, 1, rows, BIAS_ROW),
                        new ReduceDesc(op, 1, 13, 33));
            }
            case "argmax" -> new OpBench.Case(name, rows + "x[" + BIAS_ROW + "]", dir, new ReduceDesc(ReduceOp.ARGMAX, rows, BIAS_ROW, 1),
                    new ReduceDesc(ReduceOp.ARGMAX, 7, 33, 1));
            case "softmax", "log-softmax" -> new OpBench.Case(name, rows + "x[" + BIAS_ROW + "]", dir,
                    new SoftmaxDesc(rows, BIAS_ROW, 1, name.startsWith("log"), pass), new SoftmaxDesc(7, 33, 1, name.startsWith("log"), pass));
            case "softmax-channel" -> new OpBench.Case(name, rows + "x[" + CHANNELS + "]x" + PLANE, dir,
                    new SoftmaxDesc(rows, CHANNELS, PLANE, false, pass), new SoftmaxDesc(2, 7, 33, false, pass));
            default -> throw new AssertionError(name);
        };
    }

    private static OpDesc same(BinaryOp op, int n, Pass pass) { return new BinaryDesc(op, Shape.of(n), Shape.of(n), pass); }

    private static OpDesc bias(int rows, int cols, Pass pass) {
        return new BinaryDesc(BinaryOp.ADD, Shape.of(rows, cols), Shape.of(cols), pass);
    }
}
