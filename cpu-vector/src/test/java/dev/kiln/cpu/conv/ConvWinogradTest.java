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
 * {@link ConvWinograd} forced (whatever {@link VectorConv} would route), against the reference at awkward sizes,
 * at every vector width the hardware has: planes of 1x1 and of odd sizes (edge tiles cut in both directions),
 * channel counts that are not multiples of the vector length or of the microkernel's 6 rows, padding 0, 1 and 2,
 * one and several images, groups, a depth above {@link ConvBand#KC_MAX} (two depth panels), with and without
 * bias; as the forward of a regular convolution and as the backward-data of a transposed one (the same map).
 * Outputs are poisoned by the harness before the kernel writes; 1 vs 2 threads must give the same bits. The
 * routed cases (Winograd chosen by VectorConv, backward-data of regular convolutions through the turned weights)
 * are in {@link ConvParityTest#extraConvs} and {@link ConvThreadsTest}.
 */
class ConvWinogradTest {
    static List<ConvDesc> cases() {
        List<ConvDesc> base = List.of(
                ConvDesc.conv2d(1, 3, 1, 1, 5, 3, 3, 1, 1),            // a 1x1 plane: one tile, three quarters cut
                ConvDesc.conv2d(2, 17, 7, 9, 19, 3, 3, 1, 1),          // odd plane, channels off every multiple
                ConvDesc.conv2d(1, 5, 6, 35, 7, 3, 3, 1, 0),           // no padding: 4 x 33, 17 tiles a row
                ConvDesc.conv2d(3, 20, 13, 11, 33, 3, 3, 1, 1),
                ConvDesc.conv2d(2, 8, 5, 6, 13, 3, 3, 1, 2),           // padding 2: output larger than input
                ConvDesc.conv2d(2, 12, 9, 10, 18, 3, 3, 1, 1).withGroups(3),
                new ConvDesc(1, 6, 8, 9, 10, 3, 3, 1, 1, 0, 1, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false), // pads 0 / 1
                ConvDesc.conv2d(1, 1030, 4, 5, 7, 3, 3, 1, 1),         // depth 1030: two panels of 515
                ConvDesc.conv2d(2, 64, 22, 20, 40, 3, 3, 1, 1));       // several blocks of tile rows per image
        List<ConvDesc> list = new ArrayList<>();
        for (ConvDesc d : base) {
            list.add(d.withBias(true));
            list.add(d.asTransposed(0, 0).withPass(ConvPass.BACKWARD_DATA)); // the fwd map too: X = DIFF_DST, Y = DIFF_SRC
        }
        return list;
    }

    /** ConvWinograd for the two passes that are its forward map, declining everything else. */
    static KernelImpl forced(Width w) {
        return ConvImpls.impl("winograd-" + w.bits(), OpKind.CONV, w, d -> {
            ConvDesc c = (ConvDesc) d;
            boolean fwdMap = c.pass() == (c.transposed() ? ConvPass.BACKWARD_DATA : ConvPass.FORWARD);
            return fwdMap && ConvWinograd.computes(ConvGeom.of(c)) ? Support.YES : Support.no("not a 3x3 stride-1 forward map");
        }, (x, d, a) -> run(x, (ConvDesc) d, a));
    }

    private static void run(Width w, ConvDesc d, Args a) {
        ConvGeom g = ConvGeom.of(d);
        if (d.transposed()) ConvWinograd.fwd(w, g, a.host(Arg.DIFF_DST), a.host(Arg.WEIGHTS), 0, a.host(Arg.DIFF_SRC), null);
        else ConvWinograd.fwd(w, g, a.host(Arg.SRC), a.host(Arg.WEIGHTS), 0, a.host(Arg.DST), d.bias() ? a.host(Arg.BIAS) : null);
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
                long seed = ConvParityTest.SEED + 3000 + i;
                tests.add(DynamicTest.dynamicTest(impl.name() + " " + d.opName() + " " + d.shape(), () -> {
                    assertTrue(impl.supports(d).ok(), "not a Winograd case: " + d);
                    ParityResult r = Parity.check(device, impl, d, seed);
                    assertEquals(ParityResult.Status.PASSED, r.status(), r.message());
                }));
            }
        }
        return tests.stream();
    }

    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Width w = widths().getLast();
        return Stream.of(cases().get(3), cases().get(11), cases().get(16))
                .map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> ConvThreadsTest.check(forced(w), w, d)));
    }

    /** The routing at 512 bits: the bench's 3x3 C64 56x56 goes here; few channels, narrow planes, strides and 5x5 do not. */
    @TestFactory Stream<DynamicTest> routes() {
        record Case(ConvDesc d, boolean expected) {}
        Width w = Width.of(512);
        return Stream.of(new Case(ConvDesc.conv2d(32, 64, 56, 56, 64, 3, 3, 1, 1), true),
                        new Case(ConvDesc.conv2d(2, 128, 28, 28, 128, 3, 3, 1, 1), true),
                        new Case(ConvDesc.conv2d(2, 3, 56, 56, 64, 3, 3, 1, 1), false),
                        new Case(ConvDesc.conv2d(2, 64, 56, 56, 16, 3, 3, 1, 1), false),
                        new Case(ConvDesc.conv2d(2, 256, 14, 14, 256, 3, 3, 1, 1), false),
                        new Case(ConvDesc.conv2d(2, 64, 4, 4, 64, 3, 3, 1, 1), false),
                        new Case(ConvDesc.conv2d(2, 64, 56, 56, 64, 3, 3, 2, 1), false),
                        new Case(ConvDesc.conv2d(2, 64, 56, 56, 64, 5, 5, 1, 2), false),
                        new Case(ConvDesc.conv2d(2, 64, 56, 56, 64, 3, 3, 1, 1).withDilation(2, 2), false))
                .map(c -> DynamicTest.dynamicTest(c.d().shape(), () -> assertEquals(c.expected(), ConvWinograd.routes(ConvGeom.of(c.d()), w))));
    }
}
