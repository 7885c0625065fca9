package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import org.openjdk.jmh.annotations.Param;

import java.util.List;

/**
 * JMH for the convolution family: the CPU issue's shapes ({@code N,C,H,W,K,R,S,stride,pad,groups}, see
 * {@link ConvBench}) per direction; the kernel is checked once at batch 1 against the reference (the
 * reference is too slow at N=32). Rates as in {@link OpBenchmark}: {@code gflop} is the op's FLOP count.
 */
public class ConvBenchmark extends OpBenchmark {
    @Param({"32,64,56,56,64,3,3,1,1,1", "32,3,224,224,64,7,7,2,3,1", "32,256,28,28,64,1,1,1,0,1", "32,256,28,28,256,3,3,1,1,256"})
    public String shape;

    @Param({"fwd", "bwd-data", "bwd-weights"})
    public String direction;

    private OpBench.Case cached;

    private OpBench.Case benchCase() {
        if (cached == null) cached = ConvBench.cases(List.of(shape), ConvBench.directions(direction)).getFirst();
        return cached;
    }

    @Override protected OpDesc desc() { return benchCase().desc(); }

    @Override protected OpDesc checkDesc() { return benchCase().check(); }
}
