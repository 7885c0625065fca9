package dev.kiln.cpu;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.spi.Stream;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Discovery through ServiceLoader and the device's contract. */
class CpuProviderTest {
    @Test void serviceLoaderFindsTheCpuProvider() {
        List<BackendProvider> cpu = ServiceLoader.load(BackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.name().equals("cpu")).toList();
        assertEquals(1, cpu.size(), "exactly one cpu provider");
        assertInstanceOf(CpuProvider.class, cpu.getFirst());
        Probe probe = cpu.getFirst().probe();
        assertTrue(probe.available(), probe.reason());
        assertTrue(probe.reason().startsWith("vector kernels " + VectorSupport.hardwareBits() + "-bit"), probe.reason());
        List<Device> devices = cpu.getFirst().open();
        assertEquals(1, devices.size());
        assertInstanceOf(CpuDevice.class, devices.getFirst());
    }

    @Test void deviceDescribesTheHost() {
        try (Device d = new CpuDevice()) {
            assertEquals("cpu", d.backend());
            assertEquals(DeviceKind.CPU, d.kind());
            assertEquals(100, d.priority());
            assertTrue(d.usesHostMemory());
            assertEquals(Double.POSITIVE_INFINITY, d.copyBandwidthGBps());
            assertTrue(d.memoryBytes() > (64L << 20), "memory " + d.memoryBytes());
            assertTrue(d.estimatedGflops() > 0);
            Map<String, String> p = d.properties();
            System.out.println("cpu device " + d.name() + ": " + p);
            assertEquals(Integer.toString(Runtime.getRuntime().availableProcessors()), p.get("cores"));
            assertEquals(Integer.toString(CpuThreads.threads()), p.get("threads"));
            assertEquals(Integer.toString(VectorSupport.hardwareBits()), p.get("vector.hardware.bits"));
            assertTrue(p.get("vector.kernels").startsWith(VectorSupport.width().bits() + "-bit"), p.get("vector.kernels"));
            if (Files.isRegularFile(Path.of("/sys/devices/system/cpu/cpu0/cache/index0/size")))
                assertTrue(p.containsKey("cache.L1d") && p.containsKey("cache.L2"), "cache sizes from sysfs: " + p);
        }
    }

    @Test void everyOpKindEndsWithTheReference() {
        CpuDevice d = new CpuDevice();
        for (OpKind kind : OpKind.values()) {
            var impls = d.implementations(kind);
            assertEquals("ref", impls.getLast().name(), kind + " list " + impls);
            impls.forEach(i -> assertEquals(kind, i.kind()));
        }
        for (OpKind kind : List.of(OpKind.GEMM, OpKind.UNARY, OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX))
            assertEquals("vector-" + kind.lower(), d.implementations(kind).getFirst().name());
    }

    @Test void buffersAreHostMemoryAndStreamsAreSynchronous() {
        CpuDevice d = new CpuDevice();
        DeviceBuffer b = d.allocate(DType.F32, 33);
        assertInstanceOf(HostBuffer.class, b);
        assertSame(d, b.device());
        assertEquals(33 * 4, b.hostSegment().byteSize());
        b.close();
        assertTrue(b.isClosed());
        Stream s = d.newStream();
        assertSame(d, s.device());
        s.synchronize();
        s.close();
        s.close(); // harmless twice
        assertSame(d, d.defaultStream().device());
    }
}
