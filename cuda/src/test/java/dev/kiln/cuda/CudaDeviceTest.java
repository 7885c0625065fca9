package dev.kiln.cuda;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Probe;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device, buffers, streams and the allocator on a real GPU; skipped with the probe's reason elsewhere. */
class CudaDeviceTest {
    private static CudaDevice device;
    private static String reason;

    @BeforeAll
    static void open() {
        CudaProvider provider = new CudaProvider();
        Probe probe = provider.probe();
        if (!probe.available()) {
            reason = "CUDA unavailable: " + probe.reason();
            return;
        }
        var devices = provider.open();
        if (devices.isEmpty()) {
            reason = "CUDA unavailable: no device could be opened";
            return;
        }
        for (var extra : devices.subList(1, devices.size())) extra.close();
        device = (CudaDevice) devices.getFirst();
        System.out.println("cuda device: " + device.properties());
    }

    /** Each test is skipped, visibly and with the reason, when there is no GPU. */
    @BeforeEach
    void needDevice() {
        Assumptions.assumeTrue(device != null, reason);
    }

    @AfterAll
    static void close() {
        if (device != null) device.close();
    }

    @Test
    void describesItself() {
        assertEquals("cuda", device.backend());
        assertEquals(DeviceKind.GPU, device.kind());
        assertEquals(300, device.priority());
        assertTrue(device.memoryBytes() > 0);
        for (String key : new String[] {"name", "compute capability", "multiprocessors", "memory", "driver version", "cublas"})
            assertTrue(device.properties().containsKey(key), "property " + key);
        assertFalse(device.usesHostMemory());
    }

    @Test
    void copiesRoundTripThroughEveryKindOfHostMemory() {
        Random rnd = new Random(11);
        float[] src = new float[1001];
        for (int i = 0; i < src.length; i++) src[i] = rnd.nextFloat() - 0.5f;
        MemoryStats before = device.memoryStats();
        try (DeviceBuffer buf = device.allocate(DType.F32, src.length); Arena arena = Arena.ofConfined()) {
            buf.copyFrom(src);
            float[] back = new float[src.length];
            java.util.Arrays.fill(back, Float.NaN);
            buf.copyTo(back);
            assertArrayEquals(src, back);

            float[] part = new float[20];
            buf.copyTo(part, 3, 500, 17);   // array offset 3, buffer index 500
            for (int i = 0; i < 17; i++) assertEquals(src[500 + i], part[3 + i]);

            MemorySegment nat = arena.allocate(4L * src.length, 16);
            buf.copyTo(nat);
            for (int i = 0; i < src.length; i++) assertEquals(src[i], nat.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            for (int i = 0; i < src.length; i++) nat.setAtIndex(ValueLayout.JAVA_FLOAT, i, -i);
            buf.copyFrom(nat);
            assertEquals(-1000.0, buf.get(1000));
        }
        MemoryStats after = device.memoryStats();
        assertEquals(before.liveBlocks(), after.liveBlocks(), "the buffer's block went back");
        assertEquals(before.liveBytes(), after.liveBytes());
    }

    @Test
    void emptyBuffersHoldNoMemory() {
        MemoryStats before = device.memoryStats();
        try (DeviceBuffer empty = device.allocate(DType.F32, 0)) {
            empty.copyFrom(new float[0]);
            assertEquals(before.liveBlocks(), device.memoryStats().liveBlocks());
        }
    }

    @Test
    void declinesWhatItCannotRunWithAReason() {
        Support f64 = device.supports(GemmDesc.of(DType.F64, Transpose.N, Transpose.N, 4, 4, 4, 1, 0));
        assertFalse(f64.ok());
        assertTrue(f64.reason().contains("f32 only"), f64.reason());
        Support broadcast = device.supports(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 4), Shape.of(4)));
        assertFalse(broadcast.ok());
        assertTrue(broadcast.reason().contains("equal shapes"), broadcast.reason());
        assertTrue(device.implementations(dev.kiln.kernels.OpKind.CONV).isEmpty());
    }

    @Test
    void streamsTimeTheirWorkAndReuseFreedMemory() {
        UnaryDesc d = new UnaryDesc(UnaryOp.EXP, 1 << 20);
        Plan plan = device.implementations(d.kind()).getFirst().plan(d);
        try (DeviceBuffer x = device.allocate(DType.F32, d.count()); DeviceBuffer y = device.allocate(DType.F32, d.count());
             CudaStream stream = (CudaStream) device.newStream()) {
            x.copyFrom(new float[(int) d.count()]);
            float ms = stream.time(() -> plan.execute(stream, Args.of(Arg.SRC, x, Arg.DST, y)));
            assertTrue(ms >= 0, "elapsed " + ms);
            assertEquals(1.0, y.get(12345), 0.0, "exp(0)");
        }
        long reuses = device.memoryStats().reuses();
        device.allocate(DType.F32, 1 << 20).close();
        assertTrue(device.memoryStats().reuses() > reuses, "a freed block of the same class is reused");
    }

    @Test
    void argmaxAndSumOnLongRows() {
        ReduceDesc d = new ReduceDesc(ReduceOp.ARGMAX, 3, 1000, 1);
        float[] src = new float[3000];
        src[17] = 5; src[1000 + 999] = 7; src[2000] = Float.NaN; src[2500] = 3;
        try (DeviceBuffer x = device.allocate(DType.F32, 3000); DeviceBuffer y = device.allocate(DType.S32, 3)) {
            x.copyFrom(src);
            device.implementations(d.kind()).getFirst().plan(d).execute(device.defaultStream(), Args.of(Arg.SRC, x, Arg.DST, y));
            int[] got = new int[3];
            y.copyTo(got);
            assertArrayEquals(new int[] {17, 999, 0}, got, "a NaN at element 0 wins, as in the reference");
        }
        assertThrows(IllegalStateException.class, () -> {
            DeviceBuffer b = device.allocate(DType.F32, 4);
            b.close();
            b.copyFrom(new float[4]);
        });
    }
}
