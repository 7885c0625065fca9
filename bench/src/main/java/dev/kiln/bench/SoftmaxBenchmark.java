package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;
import org.openjdk.jmh.annotations.Param;

/** JMH for softmax / log-softmax over the rows of a matrix, forward and backward. */
public class SoftmaxBenchmark extends OpBenchmark {
    /** rows,cols: a classifier's logits and an attention score matrix. */
    @Param({"4096,10", "4096,1000", "2048,2048"})
    public String shape;

    @Param({"false", "true"})
    public boolean log;

    @Param({"FORWARD", "BACKWARD"})
    public String pass;

    @Override protected OpDesc desc() {
        int[] s = ints("softmax", shape, 2);
        return new SoftmaxDesc(s[0], s[1], 1, log, Pass.valueOf(pass));
    }
}
