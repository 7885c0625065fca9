package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import org.openjdk.jmh.annotations.Param;

/**
 * JMH for the element-wise family (see {@link EltwiseBench} for the ops, including {@code add-bias}): per op,
 * element count and direction; checked once on 1031 elements against the reference. Memory-bound: read the
 * {@code gbyte} rate of {@link OpBenchmark} (every operand read once, every result written once).
 */
public class EltwiseBenchmark extends OpBenchmark {
    @Param({"relu", "gelu", "exp", "add", "mul", "add-bias"})
    public String op;

    @Param({"1048576", "16777216"})
    public int size;

    @Param({"fwd", "bwd"})
    public String direction;

    private OpBench.Case cached;

    private OpBench.Case benchCase() {
        if (cached == null) cached = EltwiseBench.cases(op, Integer.toString(size), direction).getFirst();
        return cached;
    }

    @Override protected OpDesc desc() { return benchCase().desc(); }

    @Override protected OpDesc checkDesc() { return benchCase().check(); }
}
