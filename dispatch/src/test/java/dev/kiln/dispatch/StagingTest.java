package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.SelectionTest.Closer;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.dispatch.TestSupport.Trace;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Operands that live elsewhere are copied in and out through temporaries that are always closed. */
class StagingTest {
    private final FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
    private final FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
    private final FakeImpl devGemm = FakeImpl.yes("dev-gemm", OpKind.GEMM);
    private final FakeDevice gpu = FakeDevice.gpu("opencl", "pocl", 200, 10_000, 10).with(devGemm);

    private Dispatch dispatch(String forced, Trace trace, FakeDevice... devices) {
        List<dev.kiln.kernels.spi.BackendProvider> providers = java.util.Arrays.stream(devices)
                .map(d -> (dev.kiln.kernels.spi.BackendProvider) FakeProvider.of(d.backend, d)).toList();
        return Dispatch.create(providers, new DispatchConfig(forced, trace != null, trace == null ? null : trace.out));
    }

    @Test void hostOperandsAreCopiedInAndOutWithEveryCopyTracedAndEveryTemporaryClosed() {
        // beta != 0: C is read as well as written, so it is copied in too.
        GemmDesc desc = GemmDesc.of(DType.F32, Transpose.T, Transpose.N, 9, 5, 7, 0.5, 2.0);
        GemmCase g = new GemmCase(desc, 61);
        Trace trace = new Trace();
        try (var c = new Closer(dispatch("opencl", trace, cpu, gpu))) {
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertEquals(1, devGemm.runs.get());
            assertEquals(3, gpu.allocations.get());
            assertEquals(0, gpu.liveBuffers(), "every temporary is closed");
            assertEquals((63 + 35 + 45) * 4, gpu.bytesIn.get());
            assertEquals(45 * 4, gpu.bytesOut.get(), "only the output comes back");
            assertEquals(List.of("A host→opencl:pocl 252 B", "B host→opencl:pocl 140 B", "C host→opencl:pocl 180 B",
                    "C opencl:pocl→host 180 B"), c.dispatch().decide(desc, null).copies());
            assertTrue(trace.text().contains("-> opencl/dev-gemm copies: A host→opencl:pocl 252 B, B host→opencl:pocl 140 B, "
                    + "C host→opencl:pocl 180 B, C opencl:pocl→host 180 B"), trace.text());
        }
    }

    @Test void aWriteOnlyOutputIsNotCopiedIn() {
        GemmCase g = new GemmCase(GemmDesc.of(4, 6, 3), 62);
        try (var c = new Closer(dispatch("opencl", null, cpu, gpu))) {
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertEquals((12 + 18) * 4, gpu.bytesIn.get());
            assertEquals(24 * 4, gpu.bytesOut.get());
        }
    }

    @Test void temporariesAreClosedWhenTheKernelFails() {
        devGemm.failWith = new IllegalStateException("CL_OUT_OF_RESOURCES");
        GemmCase g = new GemmCase(GemmDesc.of(8, 8, 8), 63);
        try (var c = new Closer(dispatch("opencl", null, cpu, gpu))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().execute(g.desc, g.hostArgs()));
            assertEquals("CL_OUT_OF_RESOURCES", e.getMessage());
            assertEquals(3, gpu.allocations.get());
            assertEquals(0, gpu.liveBuffers());
            assertEquals(0, gpu.bytesOut.get(), "nothing is copied back from a failed run");
        }
    }

    @Test void operandsAlreadyOnADeviceStayThereEvenWhenItRanksLower() {
        FakeDevice slowGpu = FakeDevice.gpu("cuda", "old", 40, 10, 1).with(FakeImpl.yes("old-gemm", OpKind.GEMM));
        GemmCase g = new GemmCase(GemmDesc.of(11, 13, 5), 64);
        try (var c = new Closer(dispatch(null, null, cpu, slowGpu))) {
            Args onGpu = g.argsOn(slowGpu::allocate);
            int allocated = slowGpu.allocations.get();
            c.dispatch().execute(g.desc, onGpu);
            Decision d = c.dispatch().decide(g.desc, onGpu);
            assertSame(slowGpu, d.device());
            assertEquals(List.of(), d.copies());
            assertEquals(allocated, slowGpu.allocations.get(), "no temporaries");
            float[] got = new float[g.c.length];
            onGpu.get(Arg.C).copyTo(got);
            assertArrayEquals(g.expected(), got);
            assertEquals(0, vector.runs.get());
        }
    }

    @Test void operandsOnADeviceLackingTheOpAreCopiedToTheHostAndTheResultBack() {
        FakeImpl f64Only = new FakeImpl("f64-gemm", OpKind.GEMM, d -> Support.no("f64 only"));
        FakeDevice gpu64 = FakeDevice.gpu("cuda", "sm50", 300, 1000, 10).with(f64Only);
        GemmCase g = new GemmCase(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 6, 10, 4, 1.0, -1.0), 65);
        try (var c = new Closer(dispatch(null, null, cpu, gpu64))) {
            Args onGpu = g.argsOn(gpu64::allocate);
            int before = cpu.allocations.get();
            c.dispatch().execute(g.desc, onGpu);
            float[] got = new float[g.c.length];
            onGpu.get(Arg.C).copyTo(got);
            assertArrayEquals(g.expected(), got);
            Decision d = c.dispatch().decide(g.desc, onGpu);
            assertSame(cpu, d.device());
            assertEquals(List.of("cuda/f64-gemm: f64 only"), d.rejected());
            assertEquals(List.of("A cuda:sm50→host 96 B", "B cuda:sm50→host 160 B", "C cuda:sm50→host 240 B",
                    "C host→cuda:sm50 240 B"), d.copies());
            assertEquals(before + 3, cpu.allocations.get());
            assertEquals(0, cpu.liveBuffers(), "host temporaries are closed too");
        }
    }

    @Test void operandsMoveBetweenTwoDevicesThroughTheHost() {
        FakeDevice other = FakeDevice.gpu("cuda", "a100", 300, 20_000, 20);
        GemmCase g = new GemmCase(GemmDesc.of(5, 3, 2), 66);
        try (var c = new Closer(dispatch("opencl", null, cpu, gpu, other))) {
            Args onOther = g.argsOn(other::allocate);
            c.dispatch().execute(g.desc, onOther);
            float[] got = new float[g.c.length];
            onOther.get(Arg.C).copyTo(got);
            assertArrayEquals(g.expected(), got);
            assertEquals(List.of("A cuda:a100→opencl:pocl 40 B", "B cuda:a100→opencl:pocl 24 B", "C opencl:pocl→cuda:a100 60 B"),
                    c.dispatch().decide(g.desc, onOther).copies());
            assertEquals(0, gpu.liveBuffers());
        }
    }
}
