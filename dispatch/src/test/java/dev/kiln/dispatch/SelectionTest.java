package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.dispatch.TestSupport.Trace;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Which device and implementation an op gets, and the reasons recorded for everything passed over. */
class SelectionTest {
    private static FakeImpl gemm(String name) { return FakeImpl.yes(name, OpKind.GEMM); }

    @Test void aRejectingImplementationFallsThroughToTheNextDeviceWithItsReasonTraced() {
        FakeImpl picky = new FakeImpl("picky-gemm", OpKind.GEMM,
                d -> d instanceof GemmDesc g && g.k() % 64 == 0 ? Support.YES : Support.no("k must be a multiple of 64"));
        FakeDevice fast = FakeDevice.host("fast", 200, 500).with(picky);
        FakeImpl vector = gemm("vector-gemm");
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        Trace trace = new Trace();
        try (var closer = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("fast", fast), FakeProvider.of("cpu", cpu)))) {
            Dispatch dispatch = closer.dispatch;
            GemmCase g = new GemmCase(GemmDesc.of(13, 17, 7), 11);
            dispatch.execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c, "gemm 13x17x7 through the fallback device");
            assertEquals(1, vector.runs.get());
            assertEquals(0, picky.runs.get());
            Decision d = dispatch.decide(g.desc, null);
            assertSame(cpu, d.device());
            assertEquals("vector-gemm", d.implementation());
            assertEquals(List.of("fast/picky-gemm: k must be a multiple of 64"), d.rejected());
            assertEquals(List.of(), d.copies(), "host operands on host-memory devices need no copies");
            List<String> lines = trace.decisions();
            assertEquals(1, lines.size(), trace.text());
            assertTrue(lines.getFirst().startsWith("dispatch gemm f32 m=13 n=17 k=7 NN -> cpu/vector-gemm"), lines.getFirst());
            assertTrue(lines.getFirst().contains("(rejected: fast/picky-gemm: k must be a multiple of 64)"), lines.getFirst());
            assertTrue(lines.getFirst().endsWith("copies: none"), lines.getFirst());

            GemmCase aligned = new GemmCase(GemmDesc.of(3, 5, 64), 12);
            dispatch.execute(aligned.desc, aligned.hostArgs());
            assertArrayEquals(aligned.expected(), aligned.c);
            assertEquals(1, picky.runs.get(), "k=64 is supported by the higher-priority device");
        }
    }

    @Test void implementationsOfOneDeviceAreTriedBestFirst() {
        FakeImpl tuned = new FakeImpl("tuned", OpKind.GEMM, d -> Support.no("only f64"));
        FakeImpl plain = gemm("plain");
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(tuned, plain);
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("cpu", cpu)), DispatchConfig.defaults()))) {
            Decision d = c.dispatch.decide(GemmDesc.of(4, 4, 4), null);
            assertEquals("plain", d.implementation());
            assertEquals(List.of("cpu/tuned: only f64"), d.rejected());
        }
    }

    @Test void devicesAndBackendsAreListedByPriority() {
        FakeDevice cuda = FakeDevice.gpu("cuda", "h100", 300, 50_000, 25);
        FakeDevice oclGpu = FakeDevice.gpu("opencl", "gpu", 200, 10_000, 10);
        FakeDevice oclCpu = FakeDevice.gpu("opencl", "pocl", 50, 100, 20);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50);
        List<dev.kiln.kernels.spi.BackendProvider> providers = List.of(FakeProvider.of("cpu", cpu),
                FakeProvider.of("opencl", oclCpu, oclGpu), FakeProvider.of("cuda", cuda));
        try (var c = new Closer(Dispatch.create(providers, DispatchConfig.defaults()))) {
            assertEquals(List.<Device>of(cuda, oclGpu, cpu, oclCpu), c.dispatch.devices());
            assertEquals(List.of("cuda", "opencl", "cpu"), c.dispatch.backends().stream().map(BackendStatus::name).toList());
        }
    }

    @Test void anOpenClCpuDeviceRanksBelowTheCpuBackendUnlessForced() {
        FakeImpl vector = gemm("vector-gemm");
        FakeImpl ocl = gemm("ocl-gemm");
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        // Claims far more speed than the CPU backend: priority, not the estimate, keeps it second.
        FakeDevice pocl = new FakeDevice("opencl", "pocl", 50, true, 5_000, Double.POSITIVE_INFINITY).with(ocl);
        GemmCase g = new GemmCase(GemmDesc.of(33, 31, 29), 3);
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("opencl", pocl), FakeProvider.of("cpu", cpu)),
                DispatchConfig.defaults()))) {
            c.dispatch.execute(g.desc, g.hostArgs());
            assertSame(cpu, c.dispatch.decide(g.desc, null).device());
            assertEquals(List.of(), c.dispatch.decide(g.desc, null).rejected(), "the OpenCL CPU device is never reached");
            assertEquals(1, vector.runs.get());
        }
        GemmCase forced = new GemmCase(GemmDesc.of(33, 31, 29), 4);
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("opencl", pocl), FakeProvider.of("cpu", cpu)),
                new DispatchConfig("opencl", false, null)))) {
            c.dispatch.execute(forced.desc, forced.hostArgs());
            assertArrayEquals(forced.expected(), forced.c);
            assertEquals(1, ocl.runs.get());
            assertSame(pocl, c.dispatch.decide(forced.desc, null).device());
        }
    }

    @Test void copyCostKeepsATinyGemmOnTheHostAndSendsABigOneToTheFastDevice() {
        FakeImpl vector = gemm("vector-gemm");
        FakeImpl cublas = gemm("cublas-gemm");
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        FakeDevice gpu = FakeDevice.gpu("cuda", "fake-gpu", 300, 20_000, 10).with(cublas);
        Trace trace = new Trace();
        try (var c = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("cpu", cpu), FakeProvider.of("cuda", gpu)))) {
            GemmCase tiny = new GemmCase(GemmDesc.of(4, 4, 4), 5);
            c.dispatch.execute(tiny.desc, tiny.hostArgs());
            assertArrayEquals(tiny.expected(), tiny.c);
            Decision small = c.dispatch.decide(tiny.desc, null);
            assertSame(cpu, small.device(), small.summary());
            assertEquals(1, small.rejected().size(), small.summary());
            assertTrue(small.rejected().getFirst().startsWith("cuda/cublas-gemm: copy cost: "), small.summary());
            assertTrue(small.rejected().getFirst().contains("vs "), small.summary());
            assertEquals(0, gpu.allocations.get(), "nothing was copied to the device");

            // 256^3: about 0.7 ms at 50 GFLOP/s on the host, under 0.1 ms for compute, copies and launch on the device.
            GemmCase big = new GemmCase(GemmDesc.of(256, 256, 256), 6);
            c.dispatch.execute(big.desc, big.hostArgs());
            assertArrayEquals(big.expected(), big.c);
            Decision large = c.dispatch.decide(big.desc, null);
            assertSame(gpu, large.device(), large.summary());
            assertEquals(List.of(), large.rejected());
            assertEquals(List.of("A host→cuda:fake-gpu 262144 B", "B host→cuda:fake-gpu 262144 B", "C cuda:fake-gpu→host 262144 B"),
                    large.copies());
            assertEquals(1, cublas.runs.get());
            assertTrue(trace.text().contains("copies: A host→cuda:fake-gpu 262144 B, B host→cuda:fake-gpu 262144 B, C cuda:fake-gpu→host 262144 B"),
                    trace.text());
        }
    }

    @Test void theCopyCostComparesWithTheHostDeviceThatWouldRunTheOp() {
        // The only host-memory backend lacks the op, so the host side is the reference rate (1 GFLOP/s),
        // and a mid-size GEMM that the CPU backend would keep goes to the device.
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50);
        FakeImpl cublas = gemm("cublas-gemm");
        FakeDevice gpu = FakeDevice.gpu("cuda", "fake-gpu", 300, 20_000, 10).with(cublas);
        GemmDesc mid = GemmDesc.of(32, 32, 32);
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("cpu", cpu), FakeProvider.of("cuda", gpu)),
                DispatchConfig.defaults()))) {
            assertSame(gpu, c.dispatch.decide(mid, null).device());
        }
        FakeDevice cpuWithGemm = FakeDevice.host("cpu", 100, 50).with(gemm("vector-gemm"));
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("cpu", cpuWithGemm), FakeProvider.of("cuda", gpu)),
                DispatchConfig.defaults()))) {
            assertSame(cpuWithGemm, c.dispatch.decide(mid, null).device());
        }
    }

    @Test void anOpNoDeviceSupportsRunsOnTheHostReferenceAndSaysSo() {
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(gemm("vector-gemm"));
        Trace trace = new Trace();
        UnaryDesc desc = new UnaryDesc(UnaryOp.GELU, 301);
        float[] src = TestSupport.random(new Random(7), 301), dst = TestSupport.nan(301), want = TestSupport.nan(301);
        try (var c = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("cpu", cpu)))) {
            c.dispatch.execute(desc, Args.of(Arg.SRC, HostBuffer.wrap(src), Arg.DST, HostBuffer.wrap(dst)));
            RefKernels.run(desc, Args.of(Arg.SRC, HostBuffer.wrap(src), Arg.DST, HostBuffer.wrap(want)));
            assertArrayEquals(want, dst);
            Decision d = c.dispatch.decide(desc, null);
            assertTrue(d.isFallback());
            assertEquals("host", d.device().backend());
            assertEquals("ref", d.implementation());
            assertEquals(List.of("cpu: no unary kernels"), d.rejected());
            assertFalse(c.dispatch.devices().contains(d.device()), "the fallback is not a listed device");
            assertTrue(trace.decisions().getFirst().contains("-> host/ref (reference fallback: no device supports gelu)"), trace.text());
        }
    }

    @Test void aSupportsQueryThatThrowsIsARejectionNotACrash() {
        FakeImpl broken = new FakeImpl("broken", OpKind.GEMM, d -> { throw new IllegalStateException("driver went away"); });
        FakeDevice gpu = FakeDevice.host("weird", 200, 100).with(broken);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(gemm("vector-gemm"));
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("weird", gpu), FakeProvider.of("cpu", cpu)),
                DispatchConfig.defaults()))) {
            Decision d = c.dispatch.decide(GemmDesc.of(8, 8, 8), null);
            assertSame(cpu, d.device());
            assertEquals(List.of("weird/broken: supports() threw IllegalStateException: driver went away"), d.rejected());
        }
    }

    /** Closes a dispatch instance at the end of a try block. */
    record Closer(Dispatch dispatch) implements AutoCloseable {
        @Override public void close() { dispatch.close(); }
    }
}
