package dev.kiln.bench;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cases of {@code kiln bench elementwise}: unary ops (relu, gelu, silu, sigmoid, tanh, exp, log, ...) and
 * binary ops (add, sub, mul, div, max, min) on n elements, plus {@code add-bias}, an add broadcasting a row of
 * 1024 over n/1024 rows (a layer's bias). These are memory-bound: rows are read by their GB/s of compulsory
 * traffic (every operand read once, every result written once) and its share of the measured copy bandwidth.
 * Each case is checked against the reference on 1031 elements (an odd count: vector body and tail).
 */
final class EltwiseBench {
    private EltwiseBench() {}

    static final String DEFAULT_OPS = "relu,gelu,exp,add,mul,add-bias";
    /** 1 Mi floats (4 MB an operand: near the caches) and 16 Mi (64 MB: main memory). */
    static final String DEFAULT_SIZES = "1048576,16777216";
    static final String DEFAULT_DIRECTIONS = "fwd,bwd";
    private static final int BIAS_ROW = 1024, CHECK_COUNT = 1031;

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
                for (Pass p : passes) cases.add(of(name, (int) n, p));
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
        String upper = name.toUpperCase(Locale.ROOT);
        for (UnaryOp u : UnaryOp.values())
            if (u.name().equals(upper)) return new OpBench.Case(name, Integer.toString(n), dir, new UnaryDesc(u, n, pass),
                    new UnaryDesc(u, CHECK_COUNT, pass));
        for (BinaryOp b : BinaryOp.values())
            if (b.name().equals(upper)) return new OpBench.Case(name, Integer.toString(n), dir, same(b, n, pass), same(b, CHECK_COUNT, pass));
        throw new IllegalArgumentException("bench elementwise: unknown op '" + name + "' (use add-bias or one of "
                + java.util.Arrays.toString(UnaryOp.values()).toLowerCase(Locale.ROOT) + " "
                + java.util.Arrays.toString(BinaryOp.values()).toLowerCase(Locale.ROOT) + ")");
    }

    private static OpDesc same(BinaryOp op, int n, Pass pass) { return new BinaryDesc(op, Shape.of(n), Shape.of(n), pass); }

    private static OpDesc bias(int rows, int cols, Pass pass) {
        return new BinaryDesc(BinaryOp.ADD, Shape.of(rows, cols), Shape.of(cols), pass);
    }
}
