package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Parity of {@link VectorQuantize} and {@link VectorConvert} with the reference, bit for bit (the harness's
 * tolerance for these ops is exact, but for a computed b1 scale), on every QUANTIZE and CONVERT harness case
 * plus larger ones that cross task boundaries and take every vector body: per-tensor, per-group and
 * per-channel (both inner &gt; 1 and the last axis), odd group sizes (s4 runs that start mid-byte), b1 rows
 * that are not whole bytes, stochastic rounding. Subclasses force a width or thread count, each in its own JVM.
 */
class QuantizeParityTest {
    /** Vector width in bits, or -1 for the hardware's. */
    int bits() { return -1; }

    /** Threads, or 0 for the default. */
    int threads() { return 0; }

    private static int previousThreads;

    static List<OpDesc> ownCases() {
        List<OpDesc> list = new ArrayList<>();
        for (Mode mode : Mode.values())
            for (DType q : new DType[] {DType.S8, DType.U8, DType.S4, DType.B1}) {
                boolean given = mode == Mode.DEQUANTIZE;
                QuantizeDesc t = QuantizeDesc.of(mode, q, Shape.of(3, 7001)).withComputedScales(!given);
                list.add(t);                                                   // crosses the 16384-element tasks
                list.add(t.stochastic(99));
                list.add(QuantizeDesc.of(mode, q, Shape.of(37, 256)).perGroup(32).stochastic(3).withComputedScales(!given));
                list.add(QuantizeDesc.of(mode, q, Shape.of(9, 130)).perGroup(65).withComputedScales(!given));   // odd groups, b1 rows of 130 bits
                list.add(QuantizeDesc.of(mode, q, Shape.of(70, 3, 50)).perChannel(0).withComputedScales(!given));
                list.add(QuantizeDesc.of(mode, q, Shape.of(20, 67)).perChannel(1).stochastic(5).withComputedScales(!given));
            }
        list.add(QuantizeDesc.of(Mode.FAKE, DType.S8, Shape.of(256, 300)).perChannel(0).withSymmetric(false).stochastic(1));
        // s4 by groups of whole vectors (QuantBlocks.nibbleGroups at 512 bits): one vector per group, and zero points
        list.add(QuantizeDesc.of(Mode.QUANTIZE, DType.S4, Shape.of(5, 48)).perGroup(16));
        list.add(QuantizeDesc.of(Mode.DEQUANTIZE, DType.S4, Shape.of(5, 48)).perGroup(16).withComputedScales(false));
        list.add(QuantizeDesc.of(Mode.QUANTIZE, DType.S4, Shape.of(7, 96)).perGroup(48).withSymmetric(false).stochastic(2));
        for (DType h : new DType[] {DType.F16, DType.BF16}) {
            list.add(new ConvertDesc(DType.F32, h, 70001));
            list.add(new ConvertDesc(h, DType.F32, 70001));
        }
        return list;
    }

    @TestFactory
    Stream<DynamicTest> parity() {
        boolean skip = bits() > VectorSupport.hardwareBits();
        if (!skip) {
            previousThreads = CpuThreads.threads();
            if (bits() > 0) VectorSupport.overrideBits(bits());
            if (threads() > 0) CpuThreads.setThreads(threads());
        }
        CpuDevice device = new CpuDevice();
        long base = Long.getLong("kiln.parity.seed", 20261123L);
        List<OpDesc> cases = new ArrayList<>(Parity.cases(OpKind.QUANTIZE, 0));
        cases.addAll(Parity.cases(OpKind.CONVERT, 0));
        cases.addAll(ownCases());
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            OpDesc desc = cases.get(i);
            long seed = base + 7919L * i;
            QuantizeImpl impl = new QuantizeImpl(desc.kind());
            tests.add(DynamicTest.dynamicTest(desc.opName() + " " + desc.shape(), () -> {
                Assumptions.assumeFalse(skip, bits() + "-bit vectors forced, but the hardware's widest is " + VectorSupport.hardwareBits());
                Assertions.assertTrue(impl.supports(desc).ok(), () -> impl.supports(desc).reason());
                ParityResult r = Parity.check(device, impl, desc, seed);
                Assertions.assertEquals(ParityResult.Status.PASSED, r.status(), r.message());
            }));
        }
        return tests.stream();
    }

    @AfterAll static void restore() {
        VectorSupport.overrideBits(null);
        if (previousThreads > 0) CpuThreads.setThreads(previousThreads);
    }
}
