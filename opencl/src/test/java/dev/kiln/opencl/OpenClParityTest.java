package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.testing.ParityTestBase;
import dev.kiln.kernels.verify.Parity;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The implemented op families against the reference on the first OpenCL device (POCL on CI). Variants
 * the device declines (f64 GEMM, broadcasting binary ops) are skipped by the base with the device's reason.
 */
class OpenClParityTest extends ParityTestBase {
    static final Set<OpKind> KINDS = EnumSet.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.SOFTMAX, OpKind.REDUCE);

    @Override protected Device openDevice() {
        Probe probe = OpenClTesting.PROBE;
        if (!probe.available()) return null;
        List<Device> all = new OpenClProvider().open();
        for (int i = 1; i < all.size(); i++) all.get(i).close();
        if (all.isEmpty()) return null;
        System.out.println("opencl parity on " + all.getFirst().name() + " " + all.getFirst().properties());
        return all.getFirst();
    }

    @Override protected String skipReason() { return "no OpenCL device: " + OpenClTesting.PROBE.reason(); }

    @Override protected Set<OpKind> kinds() { return KINDS; }

    /** The implemented families may decline some variants, but never a whole family. */
    @TestFactory List<DynamicTest> everyImplementedKindSupportsSomeCases() {
        try (OpenClDevice d = OpenClTesting.firstDevice()) {
            List<DynamicTest> tests = new ArrayList<>();
            for (OpKind kind : KINDS) {
                long supported = Parity.cases(kind, 0).stream().filter(c -> d.supports(c).ok()).count();
                tests.add(DynamicTest.dynamicTest(kind.lower(), () -> assertTrue(supported > 0, kind + ": no case supported")));
            }
            return tests;
        }
    }
}
