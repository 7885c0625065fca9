package dev.kiln.dispatch;

import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.spi.Device;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The real path: {@link Kernels#execute} finds {@link DispatchEngine} through ServiceLoader, which finds
 * the backends on the test class path (the real CPU backend from cpu-vector, plus two broken fakes).
 * Leaves the process-wide instance open: other tests in this JVM may use it.
 */
class FacadeTest {
    @Test void theFacadeRunsThroughDispatchAndMatchesTheReference() {
        assertInstanceOf(DispatchEngine.class, Kernels.engine());
        assertEquals("dispatch", Kernels.engine().name());
        GemmDesc desc = GemmDesc.of(37, 29, 53);
        GemmCase g = new GemmCase(desc, 71);
        Kernels.execute(desc, g.hostArgs());
        float[] want = g.expected();
        for (int i = 0; i < want.length; i++)
            assertEquals(want[i], g.c[i], 1e-5 * (1 + Math.abs(want[i])) * desc.k(), "C[" + i + "] of gemm 37x29x53, seed 71");

        Decision d = Dispatch.get().decide(desc, null);
        Map<String, BackendStatus> backends = Dispatch.get().backends().stream()
                .collect(Collectors.toMap(BackendStatus::name, Function.identity()));
        BackendStatus cpu = backends.get("cpu");
        if (cpu != null && cpu.available()) {
            // The real CPU backend is there: a GEMM must run on it, not on the fallback.
            assertEquals("cpu", d.device().backend(), d.summary());
            Device first = Dispatch.get().devices().getFirst();
            assertEquals(100, first.priority(), "the CPU backend ranks as documented");
        } else {
            assertTrue(d.isFallback(), "without a CPU backend on the class path the reference runs: " + d.summary());
        }
    }

    @Test void serviceLoaderDiscoveryReportsBrokenProvidersWithoutFailing() {
        Map<String, BackendStatus> backends = Dispatch.get().backends().stream()
                .collect(Collectors.toMap(BackendStatus::name, Function.identity()));
        BackendStatus nativeMissing = backends.get("fake-native");
        assertNotNull(nativeMissing, backends.keySet().toString());
        assertFalse(nativeMissing.available());
        assertEquals("probe failed: UnsatisfiedLinkError: no fakecuda in java.library.path", nativeMissing.reason());
        BackendStatus unloadable = backends.get(ServiceFakes.Unloadable.class.getName());
        assertNotNull(unloadable, backends.keySet().toString());
        assertFalse(unloadable.available());
        assertEquals("failed to load: could not be instantiated (caused by IllegalStateException: "
                + "static initialiser of a fake backend failed)", unloadable.reason());
    }
}
