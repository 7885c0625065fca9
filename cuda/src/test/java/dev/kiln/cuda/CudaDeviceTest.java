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
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Assumptions;
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
class CudaDeviceTest extends OnFirstCudaDevice {
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
        assertTrue(device.supports(new BinaryDesc(BinaryOp.ADD, Shape.of(3, 4), Shape.of(4))).ok(), "broadcasting is taken");
        Support sevenDims = device.supports(new BinaryDesc(BinaryOp.ADD, Shape.of(2, 1, 2, 1, 2, 1, 2), Shape.of(1, 3, 1, 3, 1, 3, 1)));
        assertFalse(sevenDims.ok());
        assertTrue(sevenDims.reason().contains("at most 6"), sevenDims.reason());
        assertFalse(device.implementations(dev.kiln.kernels.OpKind.CONV).isEmpty());
    }

    @Test
    void anAllocationLargerThanTheDeviceIsAClearErrorAndLeaksNothing() {
        MemoryStats before = device.memoryStats();
        CudaException e = assertThrows(CudaException.class, () -> device.allocate(DType.F32, device.memoryBytes()));
        assertTrue(e.getMessage().contains("allocate") && e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        MemoryStats after = device.memoryStats();
        assertEquals(before.liveBlocks(), after.liveBlocks());
        assertEquals(before.liveBytes(), after.liveBytes());
        device.allocate(DType.F32, 1024).close();   // and the device still works
    }

    @Test
    void aLaunchWithTooManyThreadsNamesTheOpAndTheError() {
        CudaModules.Kernel k = device.modules().kernel(DeviceCode.Family.PIXEL_SHUFFLE, DeviceCode.PIXEL_SHUFFLE);
        try (DeviceBuffer x = device.allocate(DType.F32, 16); DeviceBuffer y = device.allocate(DType.F32, 16)) {
            CudaException e = assertThrows(CudaException.class, () -> k.launch("pixel_shuffle", device.defaultStream(), 1, 1, 1, 2048,
                    x, y, 16L, 4, 2, 2, 2, 0));
            assertTrue(e.getMessage().startsWith("pixel_shuffle: launch pixel_shuffle on "), e.getMessage());
            assertTrue(e.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), e.getMessage());
            device.defaultStream().synchronize();   // nothing was queued; the context is still usable
        }
    }

    @Test
    void backwardPassesAreBitIdenticalRunToRun() {
        var d = new dev.kiln.kernels.desc.ConvDesc(8, 16, 13, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0,
                dev.kiln.kernels.desc.ConvDesc.ConvPass.BACKWARD_WEIGHTS, true);
        Random rnd = new Random(9);
        float[] x = new float[(int) d.srcCount()], dy = new float[(int) d.dstCount()];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < dy.length; i++) dy[i] = rnd.nextFloat() - 0.5f;
        float[][] dw = new float[2][(int) d.weightCount()], db = new float[2][d.k()];
        try (DeviceBuffer gx = device.allocate(DType.F32, x.length); DeviceBuffer gdy = device.allocate(DType.F32, dy.length);
             DeviceBuffer gdw = device.allocate(DType.F32, d.weightCount()); DeviceBuffer gdb = device.allocate(DType.F32, d.k())) {
            gx.copyFrom(x);
            gdy.copyFrom(dy);
            Plan plan = device.implementations(d.kind()).getFirst().plan(d);
            for (int run = 0; run < 2; run++) {
                gdw.copyFrom(new float[(int) d.weightCount()]);
                plan.execute(device.defaultStream(), Args.of(Arg.SRC, gx, Arg.DIFF_DST, gdy, Arg.DIFF_WEIGHTS, gdw, Arg.DIFF_BIAS, gdb));
                gdw.copyTo(dw[run]);
                gdb.copyTo(db[run]);
            }
        }
        assertArrayEquals(dw[0], dw[1], "weight gradient, bit for bit");
        assertArrayEquals(db[0], db[1], "bias gradient, bit for bit");
        assertTrue(dw[0][0] != 0 && db[0][0] != 0, "mistrusted: zero gradients");
    }

    @Test
    void tf32GemmIsCloseToTheFfmaKernelWhenAskedFor() {
        Assumptions.assumeTrue(device.computeMajor() >= 8, "TF32 needs compute capability 8.0+");
        int m = 257, n = 129, kk = 1000;
        GemmDesc d = GemmDesc.of(DType.F32, Transpose.N, Transpose.T, m, n, kk, 1, 0).withEpilogue(true, dev.kiln.kernels.desc.Activation.RELU);
        Random rnd = new Random(3);
        float[] a = new float[m * kk], b = new float[n * kk], bias = new float[n];
        for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < b.length; i++) b[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < n; i++) bias[i] = rnd.nextFloat() - 0.5f;
        float[] exact = new float[m * n], tf32 = new float[m * n];
        try (DeviceBuffer ga = device.allocate(DType.F32, a.length); DeviceBuffer gb = device.allocate(DType.F32, b.length);
             DeviceBuffer gbias = device.allocate(DType.F32, n); DeviceBuffer gc = device.allocate(DType.F32, m * n)) {
            ga.copyFrom(a);
            gb.copyFrom(b);
            gbias.copyFrom(bias);
            Args args = Args.of(Arg.A, ga, Arg.B, gb, Arg.C, gc);
            args.put(Arg.BIAS, gbias);
            new CudaGemm(device).plan(d).execute(device.defaultStream(), args);
            gc.copyTo(exact);
            gc.copyFrom(new float[m * n]);
            new CudaGemm(device, true, device.computeMajor()).plan(d).execute(device.defaultStream(), args);
            gc.copyTo(tf32);
        }
        double worst = 0;
        int nonzero = 0;
        for (int i = 0; i < exact.length; i++) {
            worst = Math.max(worst, Math.abs(exact[i] - tf32[i]));
            if (tf32[i] != 0) nonzero++;
        }
        // Each product carries up to 2 * 2^-11 relative error; |a b| <= 1/4, k = 1000 terms of random sign: a few 1e-3.
        assertTrue(worst < 2e-2, "largest difference " + worst);
        assertTrue(worst > 0, "TF32 rounding should show somewhere (otherwise the FFMA kernel ran)");
        assertTrue(nonzero > exact.length / 4, "mistrusted: almost all zero");
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
