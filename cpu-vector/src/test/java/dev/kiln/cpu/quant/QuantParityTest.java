package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
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
 * Parity of {@link VectorQGemm} with the reference on every QGEMM harness case plus our own (GEMV shapes,
 * s4 groups that take the vector decode, blocks with edges, k at the s32 limits), at the hardware width and
 * the default thread count. Subclasses force a width or a thread count; each runs in its own JVM (surefire
 * reuseForks=false), so C2 sees one width. Integer outputs are compared exactly by the harness.
 */
class QuantParityTest {
    /** Vector width in bits, or -1 for the hardware's. */
    int bits() { return -1; }

    /** Threads, or 0 for the default. */
    int threads() { return 0; }

    private static int previousThreads;

    /** Our cases beyond the harness list. */
    static List<OpDesc> ownCases() {
        List<OpDesc> list = new ArrayList<>();
        list.add(QGemmDesc.s8(1, 67, 256, DType.S32));       // GEMV (Int8Gemv): an odd last row, run as a pair with itself
        list.add(QGemmDesc.s8(1, 77, 1000, DType.S32));      // GEMV: two tasks, a scalar k tail
        list.add(QGemmDesc.u8s8(1, 77, 1000, DType.S32));    // u8 GEMV: an odd row left in the second task, a scalar k tail
        list.add(QGemmDesc.s8(1, 5, 33, DType.S8));          // GEMV with k below one chunk: scalar only; s8 out
        list.add(QGemmDesc.u8s8(1, 1, 7, DType.S32));        // one row, one short k
        list.add(QGemmDesc.u8s8(1, 33, 200, DType.F32));
        list.add(QGemmDesc.u8s8(1, 9, 130, DType.F32));
        list.add(QGemmDesc.s8(70, 131, 200, DType.S32));     // two row blocks, odd n, masked tail chunk
        list.add(QGemmDesc.u8s8(67, 65, 64, DType.S32));
        list.add(QGemmDesc.s8(30, 70, 203, DType.S32));      // f32 path: B packed eight bytes at a time, k % 8 = 3, a partial sliver
        list.add(QGemmDesc.u8s8(25, 128, 1000, DType.S32));  // f32 path: whole slivers of B in lanes x lanes transposes, k % 16 = 8 the long way
        list.add(QGemmDesc.s8(775, 130, 33, DType.S32));     // f32 path: past one 768-row block and two 64-column ones
        list.add(QGemmDesc.s8(2, 3, 131071, DType.S32));     // the largest k the descriptor admits
        list.add(QGemmDesc.u8s8(3, 2, 65792, DType.S32));
        list.add(QGemmDesc.s4(1, 37, 256, 32));              // GEMV, vector decode (groups of whole chunks)
        list.add(QGemmDesc.s4(3, 5, 200, 40));               // small m, groups that do not cover chunks
        list.add(QGemmDesc.s4(1, 7, 64 * 3, 64));
        list.add(QGemmDesc.s4(1, 5, 96, 32));                // GEMV (fusedRow): an odd number of chunks at 512 bits
        list.add(QGemmDesc.s4(1, 3, 80, 16));                // the same at 256 bits (groups of one chunk there)
        list.add(QGemmDesc.s4(20, 33, 96, 32));              // large-m path: decode then f32 GEMM
        list.add(QGemmDesc.binary(1, 70, 1000, DType.S32));
        list.add(QGemmDesc.binary(70, 33, 64, DType.F32));
        list.add(QGemmDesc.binary(5, 40, 129, DType.S32));
        list.add(QGemmDesc.lmul(9, 5, 300, 4));
        list.add(QGemmDesc.lmul(1, 3, 17, 3));
        list.add(QGemmDesc.s8(70, 131, 200, DType.S8));      // requantised to int8, 2 x 2 tiles and edges
        list.add(QGemmDesc.u8s8(1, 67, 256, DType.S8));      // and the GEMV path
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
        QuantImpl impl = new QuantImpl();
        long base = Long.getLong("kiln.parity.seed", 20261123L);
        List<OpDesc> cases = new ArrayList<>(Parity.cases(OpKind.QGEMM, 0));
        cases.addAll(ownCases());
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            OpDesc desc = cases.get(i);
            long seed = base + 7919L * i;
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
