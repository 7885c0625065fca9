package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import org.openjdk.jmh.annotations.Param;

/** JMH for reductions: {@code op} along the middle axis of outer x length x inner (memory-bound: read GB/s). */
public class ReduceBenchmark extends OpBenchmark {
    /** outer,length,inner: rows of a matrix (inner 1) and the channel axis of an NCHW tensor. */
    @Param({"4096,4096,1", "32,64,3136", "1,16777216,1"})
    public String shape;

    @Param({"SUM", "MAX", "ARGMAX"})
    public String op;

    @Override protected OpDesc desc() {
        int[] s = ints("reduce", shape, 3);
        return new ReduceDesc(ReduceOp.valueOf(op), s[0], s[1], s[2]);
    }
}
