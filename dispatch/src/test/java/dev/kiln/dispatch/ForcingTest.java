package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.SelectionTest.Closer;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A forced backend runs the op there, or fails with a message that says why; it never falls back. */
class ForcingTest {
    private final FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
    private final FakeImpl scalar = FakeImpl.yes("scalar-gemm", OpKind.GEMM);
    private final FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector, scalar);
    private final FakeImpl cublas = FakeImpl.yes("cublas-gemm", OpKind.GEMM);
    private final FakeDevice gpu = FakeDevice.gpu("cuda", "fake-gpu", 300, 20_000, 10).with(cublas);
    private final FakeImpl clGemm = new FakeImpl("ocl-gemm", OpKind.GEMM, d -> Support.no("f32 only on this device, got f64"));
    private final FakeDevice ocl = FakeDevice.gpu("opencl", "gpu", 200, 5_000, 10).with(clGemm);
    private final FakeProvider broken = new FakeProvider("rocm", () -> Probe.unavailable("libamdhip64.so not found"), List::of);

    private Dispatch forced(String backend) {
        List<BackendProvider> providers = List.of(FakeProvider.of("cpu", cpu), FakeProvider.of("cuda", gpu),
                FakeProvider.of("opencl", ocl), broken);
        return Dispatch.create(providers, new DispatchConfig(backend, false, null));
    }

    @Test void aForcedBackendRunsTheOpEvenWhenTheCopyCostSaysOtherwise() {
        GemmCase tiny = new GemmCase(GemmDesc.of(3, 7, 5), 21);
        try (var c = new Closer(forced("cuda"))) {
            c.dispatch().execute(tiny.desc, tiny.hostArgs());
            assertArrayEquals(tiny.expected(), tiny.c);
            assertEquals(1, cublas.runs.get());
            assertSame(gpu, c.dispatch().decide(tiny.desc, null).device());
        }
    }

    @Test void aForcedLowPriorityBackendWinsOverHigherOnes() {
        GemmCase g = new GemmCase(GemmDesc.of(19, 3, 17), 22);
        try (var c = new Closer(forced("CPU"))) {
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertEquals(1, vector.runs.get());
        }
    }

    @Test void anImplementationCanBeForcedAsBackendSlashName() {
        GemmCase g = new GemmCase(GemmDesc.of(5, 6, 7), 23);
        try (var c = new Closer(forced("cpu/scalar-gemm"))) {
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertEquals(1, scalar.runs.get());
            assertEquals(0, vector.runs.get());
        }
        try (var c = new Closer(forced("cpu/blis"))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().decide(GemmDesc.of(5, 6, 7), null));
            assertTrue(e.getMessage().contains("no gemm implementation blis (has vector-gemm, scalar-gemm)"), e.getMessage());
        }
    }

    @Test void theHostReferenceCanBeForced() {
        GemmCase g = new GemmCase(GemmDesc.of(9, 2, 4), 24);
        try (var c = new Closer(forced("ref"))) {
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertTrue(c.dispatch().decide(g.desc, null).isFallback());
            assertEquals(0, vector.runs.get() + scalar.runs.get() + cublas.runs.get());
        }
    }

    @Test void aForcedBackendLackingTheOpThrowsNamingOpBackendAndReason() {
        try (var c = new Closer(forced("opencl"))) {
            GemmDesc d = GemmDesc.of(8, 8, 8);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().execute(d, new GemmCase(d, 1).hostArgs()));
            assertTrue(e.getMessage().startsWith("gemm m=8 n=8 k=8 NN: forced backend opencl cannot run gemm"), e.getMessage());
            assertTrue(e.getMessage().contains("opencl/ocl-gemm: f32 only on this device, got f64"), e.getMessage());
            assertEquals(0, vector.runs.get(), "no silent fallback");
            assertEquals(0, c.dispatch().decisionCount(), "failures are not cached");
        }
    }

    @Test void anUnknownForcedBackendThrowsListingTheKnownOnes() {
        try (var c = new Closer(forced("metal"))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().decide(GemmDesc.of(2, 2, 2), null));
            assertEquals("gemm m=2 n=2 k=2 NN: forced backend metal not found (known: cuda, opencl, cpu, rocm (unavailable), host)",
                    e.getMessage());
        }
    }

    @Test void anUnavailableForcedBackendThrowsWithItsReason() {
        try (var c = new Closer(forced("rocm"))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().decide(GemmDesc.of(2, 2, 2), null));
            assertEquals("gemm m=2 n=2 k=2 NN: forced backend rocm is unavailable: libamdhip64.so not found", e.getMessage());
        }
    }
}
