package dev.kiln.cpu.conv;

import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.CpuDevice;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@link ConvPointwise}, the 1x1 stride-1 forward and backward-data, and the pointwise backward-weights (fixed
 * groups of images): against the reference (outputs poisoned first, by the parity
 * harness) and bit-identical on 1 and 2 threads ({@link ConvThreadsTest#check}), at awkward sizes: odd planes,
 * one pixel, channels that are not multiples of 6 or 16, batches of 1 and 3, with and without bias, planes cut
 * into several column blocks (257 channels: 192 columns a block at 512 bits) and depth over ConvGemm.KC (two
 * depth chunks, the second added into Y).
 */
class ConvPointwiseTest {
    static List<ConvDesc> cases() {
        List<ConvDesc> base = List.of(
                ConvDesc.conv2d(1, 7, 9, 7, 5, 1, 1, 1, 0),
                ConvDesc.conv2d(3, 33, 1, 1, 17, 1, 1, 1, 0),
                ConvDesc.conv2d(3, 257, 23, 19, 70, 1, 1, 1, 0),
                ConvDesc.conv2d(1, 600, 9, 11, 13, 1, 1, 1, 0),
                ConvDesc.conv2d(2, 64, 28, 28, 64, 1, 1, 1, 0));
        List<ConvDesc> list = new ArrayList<>();
        for (ConvDesc d : base)
            for (boolean bias : new boolean[] {false, true}) list.add(d.withPass(ConvPass.FORWARD).withBias(bias));
        // backward-data through the same loops (W packed transposed) and backward-weights in groups of four
        // images: 1, 4 (one whole group), 9 (two groups and one image) images
        for (ConvDesc d : List.of(base.get(0), base.get(2), ConvDesc.conv2d(4, 40, 7, 9, 29, 1, 1, 1, 0),
                ConvDesc.conv2d(9, 19, 6, 5, 70, 1, 1, 1, 0)))
            for (ConvPass pass : new ConvPass[] {ConvPass.BACKWARD_DATA, ConvPass.BACKWARD_WEIGHTS})
                list.add(d.withPass(pass).withBias(pass == ConvPass.BACKWARD_WEIGHTS));
        return list;
    }

    private static Width width() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Assumptions.assumeTrue(VectorConv.POINTWISE_OWN, "ConvPointwise switched off by -Dkiln.conv.pointwiseOwn=false");
        return VectorSupport.width();
    }

    @TestFactory Stream<DynamicTest> matchesReference() {
        Width w = width();
        List<DynamicTest> tests = new ArrayList<>();
        for (ConvDesc d : cases()) assertTrue(VectorConv.pointwise(ConvGeom.of(d)), d.shape());
        ConvParityTest.add(tests, new CpuDevice(), ConvImpls.conv(w), cases(), 3100);
        return tests.stream();
    }

    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Width w = width();
        return cases().stream().map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> ConvThreadsTest.check(w, d)));
    }

    private static void assertTrue(boolean ok, String shape) {
        org.junit.jupiter.api.Assertions.assertTrue(ok, shape + " should route to the pointwise path");
    }
}
