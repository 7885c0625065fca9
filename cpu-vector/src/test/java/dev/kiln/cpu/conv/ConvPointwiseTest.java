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
 * depth chunks, the second added into Y), and a last sliver, or a whole last column block, of one partial vector
 * (the 6 x 1-vector kernel at 16 lanes).
 */
class ConvPointwiseTest {
    static List<ConvDesc> cases() {
        List<ConvDesc> base = List.of(
                ConvDesc.conv2d(1, 7, 9, 7, 5, 1, 1, 1, 0),
                ConvDesc.conv2d(3, 33, 1, 1, 17, 1, 1, 1, 0),
                ConvDesc.conv2d(3, 257, 23, 19, 70, 1, 1, 1, 0),
                ConvDesc.conv2d(1, 600, 9, 11, 13, 1, 1, 1, 0),
                ConvDesc.conv2d(2, 64, 28, 28, 64, 1, 1, 1, 0),
                // a last sliver of 13 columns (7x11 = 64 + 13): the 6 x 1-vector kernel at 16 lanes
                ConvDesc.conv2d(3, 37, 7, 11, 29, 1, 1, 1, 0),
                // column blocks of 512 + 512 + 13 columns at 16 lanes: the last block is one partial vector
                ConvDesc.conv2d(3, 127, 17, 61, 29, 1, 1, 1, 0));
        List<ConvDesc> list = new ArrayList<>();
        for (ConvDesc d : base)
            for (boolean bias : new boolean[] {false, true}) list.add(d.withPass(ConvPass.FORWARD).withBias(bias));
        // backward-data through the same loops (W packed transposed) and backward-weights in groups of four
        // images: 1, 4 (one whole group), 9 (two groups and one image) images
        for (ConvDesc d : List.of(base.get(0), base.get(2), base.get(5), ConvDesc.conv2d(4, 40, 7, 9, 29, 1, 1, 1, 0),
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

    /**
     * The 6 x 1-vector kernel on a last sliver one vector wide gives the bits of the 4-vector kernel there
     * ({@link ConvPointwise#NARROW_EDGE} off), forward and backward-data, outputs poisoned differently before each run.
     */
    @TestFactory Stream<DynamicTest> narrowEdgeKeepsTheBits() {
        Width w = width();
        return cases().stream().filter(d -> d.pass() != ConvPass.BACKWARD_WEIGHTS && (d.p() * d.q()) % 64 != 0
                        && (d.p() * d.q()) % 64 <= 16)
                .map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> {
                    List<dev.kiln.kernels.spi.HostBuffer> buffers = new ArrayList<>();
                    boolean before = ConvPointwise.NARROW_EDGE;
                    try {
                        dev.kiln.kernels.Args args = dev.kiln.kernels.Args.of();
                        java.util.SplittableRandom rnd = new java.util.SplittableRandom(ConvParityTest.SEED + d.hashCode());
                        for (dev.kiln.kernels.desc.ArgSpec spec : d.args()) {
                            var b = dev.kiln.kernels.spi.HostBuffer.allocate(null, spec.dtype(), spec.count());
                            buffers.add(b);
                            args.put(spec.arg(), b);
                            for (long i = 0; i < spec.count(); i++)
                                b.hostSegment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
                        }
                        List<byte[]> narrow = runWith(w, d, args, true, (byte) 0xFF), wide = runWith(w, d, args, false, (byte) 0x7F);
                        for (int i = 0; i < narrow.size(); i++)
                            org.junit.jupiter.api.Assertions.assertArrayEquals(wide.get(i), narrow.get(i), d.shape() + ": output " + i);
                    } finally {
                        ConvPointwise.NARROW_EDGE = before;
                        for (var b : buffers) b.close();
                    }
                }));
    }

    private static List<byte[]> runWith(Width w, ConvDesc d, dev.kiln.kernels.Args args, boolean narrow, byte poison) {
        ConvPointwise.NARROW_EDGE = narrow;
        for (dev.kiln.kernels.desc.ArgSpec spec : d.args())
            if (spec.access().writes()) args.host(spec.arg()).fill(poison);
        VectorConv.run(w, d, args);
        List<byte[]> out = new ArrayList<>();
        for (dev.kiln.kernels.desc.ArgSpec spec : d.args())
            if (spec.access().writes()) out.add(args.host(spec.arg()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        return out;
    }

    private static void assertTrue(boolean ok, String shape) {
        org.junit.jupiter.api.Assertions.assertTrue(ok, shape + " should route to the pointwise path");
    }
}
