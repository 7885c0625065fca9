package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.GemmDesc;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Closing releases plans and devices once; configuration comes from properties or the environment. */
class LifecycleTest {
    @Test void closeReleasesPlansAndDevicesOnceAndLaterCallsFail() {
        FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        FakeDevice gpu = FakeDevice.gpu("cuda", "g", 300, 10, 1);
        Dispatch dispatch = Dispatch.create(List.of(FakeProvider.of("cpu", cpu), FakeProvider.of("cuda", gpu)), DispatchConfig.defaults());
        GemmCase a = new GemmCase(GemmDesc.of(2, 3, 4), 81), b = new GemmCase(GemmDesc.of(4, 3, 2), 82);
        dispatch.execute(a.desc, a.hostArgs());
        dispatch.execute(b.desc, b.hostArgs());
        dispatch.close();
        dispatch.close();
        assertEquals(2, vector.plansClosed.get());
        assertEquals(1, cpu.closes.get());
        assertEquals(1, gpu.closes.get());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> dispatch.execute(a.desc, a.hostArgs()));
        assertEquals("gemm: dispatch is closed", e.getMessage());
    }

    @Test void configurationComesFromSystemPropertiesFirst() {
        String backend = System.getProperty("kiln.backend"), verbose = System.getProperty("kiln.verbose");
        try {
            System.setProperty("kiln.backend", " opencl/ocl-gemm ");
            System.setProperty("kiln.verbose", "alloc,Dispatch");
            DispatchConfig c = DispatchConfig.fromEnvironment();
            assertEquals("opencl/ocl-gemm", c.forcedBackend());
            assertTrue(c.verbose());
            assertSame(System.err, c.trace());
            System.setProperty("kiln.verbose", "alloc");
            assertFalse(DispatchConfig.fromEnvironment().verbose());
        } finally {
            restore("kiln.backend", backend);
            restore("kiln.verbose", verbose);
        }
        assertNull(new DispatchConfig("  ", false, null).forcedBackend(), "blank means automatic");
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }
}
