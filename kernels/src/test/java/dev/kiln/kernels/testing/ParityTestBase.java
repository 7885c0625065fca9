package dev.kiln.kernels.testing;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The parity suite a backend's tests extend: one dynamic test per case of {@link Parity#cases}, named
 * {@code "<op> <shape>"}, each checking the device against the reference kernels. A case the device does
 * not support is aborted (skipped) with the device's reason; when {@link #openDevice()} gives null every
 * case is skipped with {@link #skipReason()}. The device is closed after the last case.
 *
 * <p>Seeds are {@code kiln.parity.seed} (a system property, default 20261123) plus a per-case offset, and
 * every failure message prints its seed: {@code Parity.check(device, desc, seed)} reproduces it.
 */
public abstract class ParityTestBase {
    /** The device under test, or null to skip every case (no GPU, driver missing). */
    protected abstract Device openDevice();

    /** Why {@link #openDevice()} gave null. */
    protected String skipReason() { return "no device"; }

    protected Set<OpKind> kinds() { return EnumSet.allOf(OpKind.class); }

    /** Cases per op kind; 0 or less runs every case. */
    protected int casesPerKind() { return 40; }

    /** The implementation to check for {@code desc}; null means the device's first one that supports it. */
    protected KernelImpl implementation(OpDesc desc) { return null; }

    @TestFactory
    public Stream<DynamicTest> parity() {
        Device device = openDevice();
        long base = Long.getLong("kiln.parity.seed", 20261123L);
        List<DynamicTest> tests = new ArrayList<>();
        Set<OpKind> kinds = EnumSet.noneOf(OpKind.class);
        kinds.addAll(kinds()); // enum order, whatever set the subclass returns
        try {
            for (OpKind kind : kinds) {
                List<OpDesc> cases = Parity.cases(kind, casesPerKind());
                for (int i = 0; i < cases.size(); i++) {
                    OpDesc desc = cases.get(i);
                    long seed = base + 1000L * kind.ordinal() + i;
                    tests.add(DynamicTest.dynamicTest(desc.opName() + " " + desc.shape(), () -> run(device, desc, seed)));
                }
            }
        } catch (RuntimeException e) {
            if (device != null) device.close();
            throw e;
        }
        // JUnit runs the dynamic tests while consuming the stream and closes it afterwards.
        return device == null ? tests.stream() : tests.stream().onClose(device::close);
    }

    private void run(Device device, OpDesc desc, long seed) {
        if (device == null) Assumptions.abort(skipReason());
        KernelImpl impl = implementation(desc);
        ParityResult r = impl == null ? Parity.check(device, desc, seed) : Parity.check(device, impl, desc, seed);
        switch (r.status()) {
            case PASSED -> { }
            case UNSUPPORTED -> Assumptions.abort(desc.opName() + " " + desc.shape() + " unsupported on " + r.device()
                    + (r.implementation().equals("-") ? "" : " by " + r.implementation()) + ": " + r.message());
            case FAILED -> Assertions.fail(r.message());
        }
    }
}
