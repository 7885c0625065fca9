package dev.kiln.bench;

import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.OpDesc;
import org.openjdk.jmh.annotations.Param;

/** JMH for batch, layer and RMS norm: training forward and backward (memory-bound: GB/s). */
public class NormBenchmark extends OpBenchmark {
    /** n,c,spatial: a CNN activation (batch norm) and transformer rows (layer/RMS norm take spatial 1). */
    @Param({"BATCH:32,64,3136", "LAYER:8192,768,1", "RMS:8192,768,1"})
    public String shape;

    @Param({"TRAINING", "BACKWARD"})
    public String mode;

    @Override protected OpDesc desc() {
        int colon = shape.indexOf(':');
        if (colon < 0) throw new IllegalArgumentException("norm: shape '" + shape + "' needs KIND:n,c,spatial");
        int[] s = ints("norm", shape.substring(colon + 1), 3);
        return new NormDesc(NormDesc.NormKind.valueOf(shape.substring(0, colon)), s[0], s[1], s[2], 1e-5,
                NormDesc.Mode.valueOf(mode));
    }
}
