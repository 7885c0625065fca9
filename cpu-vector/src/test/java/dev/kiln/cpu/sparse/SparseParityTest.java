package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.KernelImpl;
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
 * Parity of {@link VectorSparse} with the reference on every SPMM, DSMM and SDDMM harness case plus our own,
 * sized to reach each kernel path (four-vector CSR and 2:4 chunks, two-vector BSR chunks, the masked column
 * tail, the 8-row BSR and 4-row 2:4 groups and their row tails, several tasks in both directions, B panels
 * carried over k, SpMV), at the hardware width and default threads. Subclasses force a width (0: vectors
 * off, the reference must run), or a thread count; each runs in its own JVM (surefire reuseForks=false), so
 * C2 sees one width.
 */
class SparseParityTest {
    /** Vector width in bits (0: off), or -1 for the hardware's. */
    int bits() { return -1; }

    /** Threads, or 0 for the default. */
    int threads() { return 0; }

    private static int previousThreads;

    static List<OpDesc> ownCases() {
        List<OpDesc> list = new ArrayList<>();
        list.add(SpmmDesc.csr(300, 67, 129, 300 * 129 / 5));      // 2 row tasks, chunks + masked tail
        list.add(SpmmDesc.csr(257, 1, 300, 257 * 300 / 7));       // SpMV
        list.add(SpmmDesc.csr(9, 300, 40, 9 * 40 / 3));           // 2 column tasks
        list.add(SpmmDesc.bsr(48, 70, 64, 6, 16, 16));            // 8-row groups
        list.add(SpmmDesc.bsr(36, 33, 24, 10, 12, 4));            // 8-row group + 4 single rows
        list.add(SpmmDesc.bsr(16, 1, 32, 3, 8, 8));               // n = 1
        list.add(SpmmDesc.twoFour(262, 67, 36));                  // 4-row groups, tail rows, 2 row tasks
        list.add(SpmmDesc.twoFour(5, 1, 12));
        list.add(DsmmDesc.timesTransposed(70, 300, 37, 300 * 37 / 4)); // 2 x 2 tasks
        list.add(DsmmDesc.times(70, 37, 300, 300 * 37 / 4));
        list.add(SddmmDesc.of(70, 50, 37, 70 * 50 / 3));          // masked k tail, groups of four and their tail
        list.add(SddmmDesc.transposedInputs(50, 33, 64, 50 * 33 / 2));
        list.add(SpmmDesc.csr(20, 70, 2100, 2100));               // k over a block of B rows (CsrKernel.blockRows): partial sums carried
        list.add(SpmmDesc.csr(131, 150, 300, 131 * 300 / 3));     // packed: 3 row tasks, 2 panels (the last partial)
        list.add(SpmmDesc.twoFour(131, 150, 68));                 // packed: 3 tasks, narrow panels at 512 bits, 16-vector ones below
        list.add(SpmmDesc.twoFour(37, 300, 40));                  // packed: 16-vector panels at every width, the last partial
        list.add(SpmmDesc.twoFour(9, 70, 2052));
        list.add(DsmmDesc.timesTransposed(5, 40, 1500, 40 * 1500 / 20));
        return list;
    }

    @TestFactory
    Stream<DynamicTest> parity() {
        boolean skip = bits() > VectorSupport.hardwareBits();
        if (!skip) {
            previousThreads = CpuThreads.threads();
            if (bits() >= 0) VectorSupport.overrideBits(bits());
            if (threads() > 0) CpuThreads.setThreads(threads());
        }
        CpuDevice device = new CpuDevice();
        long base = Long.getLong("kiln.parity.seed", 20261123L);
        List<OpDesc> cases = new ArrayList<>();
        for (OpKind kind : new OpKind[] {OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM}) cases.addAll(Parity.cases(kind, 0));
        cases.addAll(ownCases());
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            OpDesc desc = cases.get(i);
            long seed = base + 7919L * i;
            tests.add(DynamicTest.dynamicTest(desc.opName() + " " + desc.shape(), () -> {
                Assumptions.assumeFalse(skip, bits() + "-bit vectors forced, but the hardware's widest is " + VectorSupport.hardwareBits());
                KernelImpl first = device.implementations(desc.kind()).getFirst();
                Assertions.assertEquals("vector-sparse", first.name(), "the CPU device lists the sparse kernels first");
                KernelImpl impl;
                if (bits() == 0) {
                    Assertions.assertFalse(first.supports(desc).ok(), "vectors off: the vector kernel must decline");
                    impl = device.implementations(desc.kind()).getLast();
                } else {
                    impl = new SparseImpl(desc.kind());
                    Assertions.assertTrue(impl.supports(desc).ok(), () -> impl.supports(desc).reason());
                }
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
