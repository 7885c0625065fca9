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
 * Every op family against the reference on the first OpenCL device (POCL on CI). Cases the device declines
 * are aborted by the base with the device's reason: f64 GEMM on a device without fp64 (and, on devices
 * without cl_khr_fp64, scaled qgemm outputs and quantisation). The families in
 * {@link #COMPLETE} must support every case ({@link #denseFamiliesSupportEveryCase}).
 */
class OpenClParityTest extends ParityTestBase {
    /** Families with kernels here. */
    static final Set<OpKind> KINDS = EnumSet.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.SOFTMAX, OpKind.REDUCE,
            OpKind.CONV, OpKind.POOL, OpKind.NORM, OpKind.PIXEL_SHUFFLE, OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM, OpKind.QGEMM,
            OpKind.QUANTIZE, OpKind.CONVERT);
    /** Families that must support every parity case (GEMM may decline f64). */
    static final Set<OpKind> COMPLETE = EnumSet.of(OpKind.UNARY, OpKind.BINARY, OpKind.SOFTMAX, OpKind.REDUCE,
            OpKind.CONV, OpKind.POOL, OpKind.NORM, OpKind.PIXEL_SHUFFLE, OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM,
            OpKind.QGEMM, OpKind.QUANTIZE, OpKind.CONVERT);

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

    @Override protected Set<OpKind> kinds() { return EnumSet.allOf(OpKind.class); }

    /** Every case, not a sample: with the binary cache warm the whole list takes seconds on POCL. */
    @Override protected int casesPerKind() { return 0; }

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

    /** Every case of the complete families, not only the sampled ones, is supported: nothing falls back to the CPU. */
    @TestFactory List<DynamicTest> denseFamiliesSupportEveryCase() {
        try (OpenClDevice d = OpenClTesting.firstDevice()) {
            List<DynamicTest> tests = new ArrayList<>();
            for (OpKind kind : COMPLETE) {
                // A device without cl_khr_fp64 may decline what needs double (scaled qgemm outputs, quantisation), saying so.
                List<String> declined = Parity.cases(kind, 0).stream().filter(c -> !d.supports(c).ok())
                        .filter(c -> d.fp64() || !d.supports(c).reason().contains("cl_khr_fp64"))
                        .map(c -> c.opName() + " " + c.shape() + ": " + d.supports(c).reason()).toList();
                tests.add(DynamicTest.dynamicTest(kind.lower(), () -> assertTrue(declined.isEmpty(), kind + " declines " + declined)));
            }
            return tests;
        }
    }
}
