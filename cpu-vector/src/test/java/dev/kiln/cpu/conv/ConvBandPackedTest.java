package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.TestWidths;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ConvBandPacked} forced (whatever {@link VectorConv} would route; its speed conditions, depth and channel
 * counts, left out), and {@link ConvBandData} forced for the backward-data of the strided cases, against the
 * reference at every vector width the hardware has: odd planes, strides 1, 2 and 3, unequal padding, dilation,
 * groups, output channels that are not multiples of the microkernel's 6 rows, 1, 3, 5 and 8 input channels, one
 * and three images, a band's last sliver cut short (the tile written lane by lane), rows whose vectors cross an
 * output row at some widths (packed from two runs), several bands per image, with and without bias, and the
 * backward-data of a transposed convolution (the same forward map). Outputs are poisoned by the harness before
 * the kernel writes; 1 vs 2 threads must give the same bits. The routed stem cases are in
 * {@link ConvParityTest#extraConvs} and {@link ConvThreadsTest}.
 */
class ConvBandPackedTest {
    static List<ConvDesc> cases() {
        return List.of(
                ConvDesc.conv2d(1, 3, 37, 41, 13, 7, 7, 2, 3).withBias(true),   // stem-like: 19 x 21 out, 13 channels
                ConvDesc.conv2d(3, 1, 50, 45, 7, 7, 7, 2, 2),                   // one input channel (depth 49), three images
                ConvDesc.conv2d(2, 5, 31, 52, 20, 5, 5, 3, 1).withBias(true),   // stride 3: three phases a side
                ConvDesc.conv2d(2, 6, 19, 35, 50, 3, 3, 1, 1).withBias(true),   // stride 1, rows of 35
                new ConvDesc(1, 4, 40, 70, 30, 5, 5, 2, 2, 0, 2, 1, 1, 2, false, 0, 0, ConvPass.FORWARD, true), // pads 0 / 2, 2 groups
                ConvDesc.conv2d(1, 8, 30, 40, 12, 3, 3, 2, 2).withDilation(2, 2),
                ConvDesc.conv2d(1, 3, 33, 33, 64, 7, 7, 2, 3).withBias(true),   // 17 x 17 = 289 columns: a short last sliver
                ConvDesc.conv2d(1, 8, 200, 90, 24, 5, 5, 2, 2),                  // several bands per image
                ConvDesc.conv2d(1, 30, 21, 19, 2, 5, 5, 1, 2).asTransposed(0, 0).withPass(ConvPass.BACKWARD_DATA));
    }

    /** ConvBandPacked for the forward map; ConvBandData for the backward-data of regular convolutions it takes. */
    static KernelImpl forced(Width w) {
        return ConvImpls.impl("band-packed-" + w.bits(), OpKind.CONV, w, d -> {
            ConvDesc c = (ConvDesc) d;
            ConvGeom g = ConvGeom.of(c);
            if (c.pass() == (c.transposed() ? ConvPass.BACKWARD_DATA : ConvPass.FORWARD))
                return ConvBand.forwardApplies(g) && g.wy() >= w.floats().length() ? Support.YES : Support.no("no packed forward");
            if (c.pass() == ConvPass.BACKWARD_DATA && !c.transposed())
                return ConvBandData.applies(g, w) ? Support.YES : Support.no("no band backward-data");
            return Support.no("not a forward map or a band backward-data");
        }, (x, d, a) -> run(x, (ConvDesc) d, a));
    }

    private static void run(Width w, ConvDesc d, Args a) {
        ConvGeom g = ConvGeom.of(d);
        if (d.transposed()) ConvBandPacked.fwd(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), 0, a.host(Arg.DIFF_SRC), null);
        else if (d.pass() == ConvPass.BACKWARD_DATA)
            ConvBandData.data(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), a.host(Arg.DIFF_SRC), null);
        else ConvBandPacked.fwd(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), 0, a.host(Arg.DST), d.bias() ? a.host(Arg.BIAS) : null);
    }

    private static List<Width> widths() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        return TestWidths.available();
    }

    @TestFactory Stream<DynamicTest> matchesTheReference() {
        CpuDevice device = new CpuDevice();
        List<DynamicTest> tests = new ArrayList<>();
        List<ConvDesc> cases = cases();
        for (Width w : widths()) {
            KernelImpl impl = forced(w);
            for (int i = 0; i < cases.size(); i++) {
                ConvDesc d = cases.get(i);
                long seed = ConvParityTest.SEED + 4000 + i;
                tests.add(test(device, impl, d, seed));
                // the strided regular ones also as backward-data through ConvBandData, where it takes them
                if (!d.transposed() && d.strideH() > 1 && ConvBandData.applies(ConvGeom.of(d), w))
                    tests.add(test(device, impl, d.withPass(ConvPass.BACKWARD_DATA).withBias(false), seed + 100));
            }
        }
        return tests.stream();
    }

    private static DynamicTest test(CpuDevice device, KernelImpl impl, ConvDesc d, long seed) {
        return DynamicTest.dynamicTest(impl.name() + " " + d.opName() + " " + d.pass() + " " + d.shape(), () -> {
            assertTrue(impl.supports(d).ok(), "not taken by the forced kernel: " + d);
            ParityResult r = Parity.check(device, impl, d, seed);
            assertEquals(ParityResult.Status.PASSED, r.status(), r.message());
        });
    }

    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Width w = widths().getLast();
        return Stream.of(cases().get(0), cases().get(3), cases().get(7))
                .map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> ConvThreadsTest.check(forced(w), w, d)));
    }

    /** The routing at 512 bits: the bench's stem goes here; deep, few-channel and narrow-row convolutions do not. */
    @TestFactory Stream<DynamicTest> routes() {
        record Case(ConvDesc d, boolean expected) {}
        Width w = Width.of(512);
        return Stream.of(new Case(ConvDesc.conv2d(32, 3, 224, 224, 64, 7, 7, 2, 3), true),
                        new Case(ConvDesc.conv2d(2, 16, 56, 56, 64, 3, 3, 1, 1), true),
                        new Case(ConvDesc.conv2d(2, 16, 56, 56, 32, 3, 3, 1, 1), false),  // too few output channels
                        new Case(ConvDesc.conv2d(2, 64, 56, 56, 64, 3, 3, 2, 1), false),  // depth 576: B's sliver past L1
                        new Case(ConvDesc.conv2d(2, 3, 24, 24, 64, 7, 7, 2, 3), false))   // 12-wide rows, under a vector
                .map(c -> DynamicTest.dynamicTest(c.d().shape(),
                        () -> assertEquals(c.expected(), ConvBandPacked.applies(ConvGeom.of(c.d()), w))));
    }
}
