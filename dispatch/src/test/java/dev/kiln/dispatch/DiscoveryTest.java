package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.SelectionTest.Closer;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.dispatch.TestSupport.Trace;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** Broken backends become unavailable statuses with one-line reasons; they never stop the others. */
class DiscoveryTest {
    private static Map<String, BackendStatus> byName(Dispatch d) {
        return d.backends().stream().collect(Collectors.toMap(BackendStatus::name, Function.identity()));
    }

    @Test void everyKindOfBrokenProviderIsReportedAndTheRestStillRun() {
        FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        FakeProvider noLib = new FakeProvider("cuda", () -> {
            throw new UnsatisfiedLinkError("no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib\nsecond line");
        }, List::of);
        FakeProvider initFails = new FakeProvider("jocl", () -> {
            throw new ExceptionInInitializerError(new IllegalStateException("CL_PLATFORM_NOT_FOUND_KHR"));
        }, List::of);
        FakeProvider saysNo = new FakeProvider("opencl", () -> Probe.unavailable("no OpenCL platform (libOpenCL.so.1 missing)"), () -> {
            throw new AssertionError("open must not be called after an unavailable probe");
        });
        FakeProvider openThrows = new FakeProvider("vulkan", () -> Probe.ok("loader 1.3"), () -> {
            throw new IllegalStateException("vkCreateInstance returned -9");
        });
        FakeProvider noDevices = new FakeProvider("metal", () -> Probe.ok("fine"), List::of);
        FakeProvider nullProbe = new FakeProvider("npu", () -> null, List::of);
        FakeProvider nameless = new FakeProvider(null, () -> Probe.unavailable("nothing here"), List::of) {
            @Override public String name() { throw new NoClassDefFoundError("org/example/Native"); }
        };
        Trace trace = new Trace();
        List<BackendProvider> providers = List.of(noLib, initFails, saysNo, openThrows, FakeProvider.of("cpu", cpu),
                noDevices, nullProbe, nameless);
        try (var c = new Closer(Dispatch.create(providers, new DispatchConfig(null, true, trace.out)))) {
            Map<String, BackendStatus> s = byName(c.dispatch());
            assertEquals(8, c.dispatch().backends().size());
            assertEquals("cpu", c.dispatch().backends().getFirst().name(), "available backends come first");
            assertTrue(s.get("cpu").available());
            assertEquals(List.<Device>of(cpu), s.get("cpu").devices());
            assertEquals("fake cpu", s.get("cpu").reason());

            assertUnavailable(s.get("cuda"),
                    "probe failed: UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib");
            assertUnavailable(s.get("jocl"),
                    "probe failed: ExceptionInInitializerError (caused by IllegalStateException: CL_PLATFORM_NOT_FOUND_KHR)");
            assertUnavailable(s.get("opencl"), "no OpenCL platform (libOpenCL.so.1 missing)");
            assertUnavailable(s.get("vulkan"), "open failed: IllegalStateException: vkCreateInstance returned -9");
            assertUnavailable(s.get("metal"), "opened no devices");
            assertUnavailable(s.get("npu"), "probe returned null");
            assertUnavailable(s.get(nameless.getClass().getName()), "nothing here");
            assertEquals(0, saysNo.opens.get());

            // Verbose mode logs each skipped backend once, with its reason.
            List<String> skipped = trace.lines().stream().filter(l -> l.startsWith("dispatch backend ")).toList();
            assertEquals(7, skipped.size(), trace.text());
            assertTrue(skipped.contains("dispatch backend cuda skipped: probe failed: UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib"),
                    trace.text());

            GemmCase g = new GemmCase(GemmDesc.of(10, 3, 8), 51);
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            Decision d = c.dispatch().decide(g.desc, null);
            assertSame(cpu, d.device());
            assertTrue(d.rejected().contains("cuda: unavailable: probe failed: UnsatisfiedLinkError: "
                    + "no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib"), d.rejected().toString());
            assertEquals(7, d.rejected().size(), d.rejected().toString());
        }
    }

    private static void assertUnavailable(BackendStatus status, String reason) {
        assertNotNull(status);
        assertFalse(status.available(), status.toString());
        assertEquals(List.of(), status.devices());
        assertEquals(reason, status.reason());
        assertFalse(status.reason().contains("\n"));
    }

    @Test void longReasonsAreClippedToOneLine() {
        String longMessage = "x".repeat(1000);
        FakeProvider p = new FakeProvider("big", () -> { throw new UnsatisfiedLinkError(longMessage); }, List::of);
        try (var c = new Closer(Dispatch.create(List.of(p), DispatchConfig.defaults()))) {
            String reason = c.dispatch().backends().getFirst().reason();
            assertTrue(reason.length() <= 240, reason.length() + " characters");
            assertTrue(reason.startsWith("probe failed: UnsatisfiedLinkError: xxx") && reason.endsWith("..."), reason);
        }
    }

    @Test void withNoBackendAtAllEveryOpStillRunsOnTheReference() {
        try (var c = new Closer(Dispatch.create(List.of(), DispatchConfig.defaults()))) {
            assertEquals(List.of(), c.dispatch().devices());
            GemmCase g = new GemmCase(GemmDesc.of(1, 1, 1), 52);
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertTrue(c.dispatch().decide(g.desc, null).isFallback());
        }
    }
}
