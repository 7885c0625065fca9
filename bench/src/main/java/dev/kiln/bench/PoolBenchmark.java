package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import org.openjdk.jmh.annotations.Param;

/** JMH for max and average pooling, forward and backward, on NCHW f32 (memory-bound: GB/s). */
public class PoolBenchmark extends OpBenchmark {
    /** n,c,h,w,window,stride,pad: the Fashion-MNIST cnn's two pools and a ResNet stem pool. */
    @Param({"64,32,28,28,2,2,0", "64,64,14,14,2,2,0", "32,64,112,112,3,2,1"})
    public String shape;

    @Param({"MAX", "AVG"})
    public String pool;

    @Param({"FORWARD", "BACKWARD"})
    public String pass;

    @Override protected OpDesc desc() {
        int[] s = ints("pool", shape, 7);
        return PoolDesc.of(PoolDesc.PoolKind.valueOf(pool), s[0], s[1], s[2], s[3], s[4], s[5], s[6]).withPass(Pass.valueOf(pass));
    }
}
