package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import org.openjdk.jmh.annotations.Param;

/** JMH for pixel shuffle and unshuffle (a permutation: pure data movement, read GB/s). */
public class PixelShuffleBenchmark extends OpBenchmark {
    /** n,c,h,w,factor: a super-resolution head's input (c a multiple of factor² for shuffle). */
    @Param({"16,256,56,56,2", "8,576,64,64,3"})
    public String shape;

    @Param({"false", "true"})
    public boolean unshuffle;

    @Override protected OpDesc desc() {
        int[] s = ints("pixel_shuffle", shape, 5);
        return new PixelShuffleDesc(s[0], s[1], s[2], s[3], s[4], unshuffle);
    }
}
