package dev.kiln.kernels.testing;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import dev.kiln.kernels.verify.Parity;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The base class's dynamic tests, run by hand: skipped without a device, aborted when unsupported, failing with the message. */
class ParityTestBaseTest {

    /** A base-class subclass over one kind and a given device. */
    private static ParityTestBase suite(Device device, int cases, KernelImpl forced) {
        return new ParityTestBase() {
            @Override protected Device openDevice() { return device; }

            @Override protected String skipReason() { return "no accelerator on this machine"; }

            @Override protected Set<OpKind> kinds() { return EnumSet.of(OpKind.GEMM); }

            @Override protected int casesPerKind() { return cases; }

            @Override protected KernelImpl implementation(OpDesc d) { return forced; }
        };
    }

    private static List<DynamicTest> tests(ParityTestBase suite) {
        try (Stream<DynamicTest> s = suite.parity()) {
            return s.toList();
        }
    }

    @Test
    void noDeviceSkipsEveryCaseWithTheReason() {
        List<DynamicTest> tests = tests(suite(null, 5, null));
        assertEquals(5, tests.size());
        for (DynamicTest t : tests) {
            TestAbortedException e = assertThrows(TestAbortedException.class, () -> t.getExecutable().execute());
            assertTrue(e.getMessage().contains("no accelerator on this machine"), e::getMessage);
        }
    }

    @Test
    void namesAreOpAndShapeAndTheDeviceIsClosedAfterwards() throws Throwable {
        HostTestDevice device = new HostTestDevice();
        List<OpDesc> cases = Parity.cases(OpKind.GEMM, 6);
        try (Stream<DynamicTest> s = suite(device, 6, null).parity()) {
            List<DynamicTest> tests = s.toList();
            for (int i = 0; i < tests.size(); i++) {
                assertEquals(cases.get(i).opName() + " " + cases.get(i).shape(), tests.get(i).getDisplayName());
                tests.get(i).getExecutable().execute(); // the reference passes
            }
            assertFalse(device.isClosed(), "open while cases run");
        }
        assertTrue(device.isClosed(), "closed with the stream");
        assertEquals(device.allocations(), device.closes());
    }

    @Test
    void unsupportedAbortsWithTheReasonAndFailuresCarryTheMessage() {
        KernelImpl picky = Mutants.impl(OpKind.GEMM, "picky", Support.no("picky: only square matrices"), (d, a) -> fail("never planned"));
        for (DynamicTest t : tests(suite(new HostTestDevice(k -> List.of(picky)), 3, null))) {
            TestAbortedException e = assertThrows(TestAbortedException.class, () -> t.getExecutable().execute());
            assertTrue(e.getMessage().contains("only square matrices") && e.getMessage().contains("unsupported"), e::getMessage);
        }
        KernelImpl zeros = Mutants.after(OpKind.GEMM, "zeros", Mutants::zero);
        HostTestDevice device = new HostTestDevice(k -> List.of(RefKernels.impl(k)));
        List<DynamicTest> forced = tests(suite(device, 40, zeros)); // implementation() picks the mutant over the device's list
        int failed = 0;
        for (DynamicTest t : forced) {
            try {
                t.getExecutable().execute();
            } catch (AssertionFailedError e) {
                assertTrue(e.getMessage().contains("zeros") && e.getMessage().contains("seed "), e::getMessage);
                failed++;
            } catch (Throwable e) {
                fail("unexpected " + e);
            }
        }
        assertTrue(failed > 30, "the zeroing implementation fails nearly every case: " + failed + " of " + forced.size());
    }
}
