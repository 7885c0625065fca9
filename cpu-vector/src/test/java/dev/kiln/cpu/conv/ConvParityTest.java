package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every harness case of CONV and POOL, plus larger convolutions (the Fashion-MNIST CNN's layers at a small
 * batch, strided, dilated, grouped and transposed shapes with many channels, depthwise with a multiplier),
 * through the conv-package kernels at the hardware's vector width (subclasses: forced widths), against the
 * reference.
 */
class ConvParityTest {
    static final long SEED = Long.getLong("kiln.parity.seed", 20261123L);

    /** Larger shapes than the harness's: several k chunks, several column blocks, edge tiles. */
    static List<ConvDesc> extraConvs() {
        List<ConvDesc> base = List.of(
                ConvDesc.conv2d(2, 1, 28, 28, 32, 5, 5, 1, 2),    // CNN conv1, batch 2
                ConvDesc.conv2d(2, 32, 14, 14, 64, 5, 5, 1, 2),   // CNN conv2, batch 2
                ConvDesc.conv2d(1, 19, 23, 21, 13, 3, 3, 2, 1).withDilation(2, 1),
                ConvDesc.conv2d(2, 12, 11, 9, 18, 3, 3, 1, 1).withGroups(3),
                ConvDesc.conv2d(2, 8, 15, 17, 24, 3, 3, 1, 1).withGroups(8),   // depthwise, multiplier 3
                ConvDesc.conv2d(2, 10, 9, 9, 7, 4, 4, 2, 1).asTransposed(1, 0),
                ConvDesc.conv1d(3, 40, 70, 24, 5, 1, 2, 1, 1),
                // depthwise 3x3 (Depthwise3x3): the bench's 28x28 (two vectors a row at 512 bits, the last partial),
                // rows of 1 and of 37 (three vectors, many at 128), vertical stride 2 with horizontal dilation 2 and
                // unequal padding, padding past the kernel; then 5x5 and stride 2 across, which keep the row loop
                ConvDesc.conv2d(2, 16, 28, 28, 16, 3, 3, 1, 1).withGroups(16),
                new ConvDesc(1, 5, 11, 37, 5, 3, 3, 2, 1, 0, 2, 1, 2, 5, false, 0, 0, ConvPass.FORWARD, false),
                ConvDesc.conv2d(3, 4, 6, 1, 4, 3, 3, 1, 1).withGroups(4),
                ConvDesc.conv2d(2, 6, 5, 9, 6, 3, 3, 1, 3).withGroups(6),
                ConvDesc.conv2d(2, 6, 10, 10, 6, 5, 5, 1, 2).withGroups(6),
                ConvDesc.conv2d(2, 6, 13, 13, 6, 3, 3, 2, 1).withGroups(6),
                // the band paths (ConvBand, ConvBandData, ConvWeightGemm): rows that end inside a vector, several
                // bands per image; a 7x7 stride-2 stem (stride-2 phase planes, odd padding) and a 5x5 stride-2 with
                // even padding; depth above ConvBand.KC_MAX (two depth panels, the second added into Y); 1x1
                // convolutions that run as the GEMM driver's batched product (VectorConv.pointwise), also transposed
                ConvDesc.conv2d(2, 16, 37, 30, 20, 3, 3, 1, 1),
                ConvDesc.conv2d(2, 3, 37, 41, 48, 7, 7, 2, 3),
                ConvDesc.conv2d(2, 8, 20, 22, 32, 5, 5, 2, 2),
                ConvDesc.conv2d(2, 24, 9, 10, 8, 4, 4, 2, 1).asTransposed(1, 1), // output padding past the phase planes
                ConvDesc.conv2d(1, 120, 9, 11, 7, 3, 3, 1, 1),
                ConvDesc.conv2d(3, 33, 7, 9, 17, 1, 1, 1, 0),
                ConvDesc.conv2d(2, 20, 5, 7, 9, 1, 1, 1, 0).asTransposed(0, 0),
                // 3x3 stride 1 that VectorConv routes to ConvWinograd at every width (forward, and backward-data
                // through the turned weights), one with two groups; ConvWinogradTest forces it on awkward shapes
                ConvDesc.conv2d(2, 32, 9, 28, 36, 3, 3, 1, 1),
                ConvDesc.conv2d(1, 64, 7, 27, 64, 3, 3, 1, 1).withGroups(2),
                ConvDesc.conv2d(2, 36, 9, 28, 32, 3, 3, 1, 1).asTransposed(0, 0), // forward (with bias) on Winograd too
                // a stem whose weight-gradient band (40 rows of 43) is deeper than KC_MAX: two depth panels in ConvWeightGemm
                ConvDesc.conv2d(1, 3, 80, 80, 48, 7, 7, 2, 3));
        List<ConvDesc> list = new ArrayList<>();
        for (ConvDesc d : base)
            for (ConvPass pass : ConvPass.values()) list.add(d.withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA));
        return list;
    }

    /** The width under test: the hardware's here; subclasses force narrower ones (each class has its own JVM). */
    Width width() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        return VectorSupport.width();
    }

    /** A forced width, skipped where the hardware is narrower (the Vector API would emulate it). */
    static Width forced(int bits) {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Assumptions.assumeTrue(bits <= VectorSupport.hardwareBits(),
                () -> bits + "-bit vectors forced, but the hardware's widest are " + VectorSupport.hardwareBits() + " bits");
        return Width.of(bits);
    }

    @TestFactory Stream<DynamicTest> harnessAndLargerCases() {
        Width w = width();
        CpuDevice device = new CpuDevice();
        List<DynamicTest> tests = new ArrayList<>();
        add(tests, device, ConvImpls.conv(w), Parity.cases(OpKind.CONV, 0), 0);
        add(tests, device, ConvImpls.pool(w), Parity.cases(OpKind.POOL, 0), 500);
        add(tests, device, ConvImpls.conv(w), new ArrayList<>(extraConvs()), 900);
        List<PoolDesc> pools = new ArrayList<>(); // the unrolled 2x2 path: the CNN's pool, odd sizes, stride 1
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                pools.add(PoolDesc.of(kind, 2, 3, 28, 27, 2, 2, 0).withPass(pass));
                pools.add(PoolDesc.of(kind, 1, 2, 9, 11, 2, 1, 0).withPass(pass));
                // rows wide enough for VectorPool's vector interior at every width (q >= 16 at 512 bits): strides
                // 1, 2 (the split by two-vector permutes, its last-row fallback) and 3 (split element by element),
                // padded borders, average with and without the padding counted
                pools.add(PoolDesc.of(kind, 2, 3, 37, 75, 2, 2, 0).withPass(pass));
                pools.add(new PoolDesc(kind, 2, 2, 21, 70, 3, 3, 2, 2, 1, 1, false, pass));
                pools.add(new PoolDesc(kind, 1, 3, 9, 41, 3, 3, 1, 1, 1, 1, true, pass));
                pools.add(new PoolDesc(kind, 1, 2, 8, 100, 2, 3, 2, 3, 1, 1, false, pass));
                pools.add(PoolDesc.of(kind, 2, 2, 10, 11, 3, 3, 0).withPass(pass)); // tiling 3x3 windows, ragged edges
            }
        add(tests, device, ConvImpls.pool(w), pools, 1900);
        return tests.stream();
    }

    static void add(List<DynamicTest> tests, CpuDevice device, KernelImpl impl, List<? extends OpDesc> cases, int offset) {
        for (int i = 0; i < cases.size(); i++) {
            OpDesc d = cases.get(i);
            long seed = SEED + offset + i;
            tests.add(DynamicTest.dynamicTest(impl.name() + " " + d.opName() + " " + d.shape(), () -> {
                ParityResult r = Parity.check(device, impl, d, seed);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.message());
            }));
        }
    }
}
