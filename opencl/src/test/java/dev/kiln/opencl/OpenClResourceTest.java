package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Native object lifetimes, buffer copies of every kind of host segment, and use after close. */
@Isolated // reads the process-wide live-object counter
class OpenClResourceTest {
    @Test void everyNativeObjectIsReleasedOnClose() {
        long before = ClLive.live();
        OpenClDevice device = OpenClTesting.firstDevice();
        var stream = device.newStream();
        SplittableRandom rnd = new SplittableRandom(7);
        int m = 13, n = 17, k = 9;
        float[] a = random(rnd, m * k), b = random(rnd, k * n);
        var da = device.allocate(DType.F32, a.length);
        var db = device.allocate(DType.F32, b.length);
        var dc = device.allocate(DType.F32, m * n);
        da.copyFrom(a);
        db.copyFrom(b);
        GemmDesc gemm = GemmDesc.of(m, n, k);
        Plan plan = device.implementations(gemm.kind()).getFirst().plan(gemm);
        plan.execute(stream, Args.of(Arg.A, da, Arg.B, db, Arg.C, dc));
        stream.synchronize();
        float[] got = new float[m * n], want = new float[m * n];
        dc.copyTo(got);
        RefKernels.run(gemm, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(want)));
        for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), "c[" + i + "]");
        plan.close();
        // A second plan left open, and buffers left open: the device's close must release them.
        UnaryDesc relu = new UnaryDesc(UnaryOp.RELU, m * n);
        Plan open = device.implementations(relu.kind()).getFirst().plan(relu);
        var dst = device.allocate(DType.F32, m * n);
        open.execute(device.defaultStream(), Args.of(Arg.SRC, dc, Arg.DST, dst));
        assertTrue(ClLive.live() - before >= 8, "context, 2 queues, 2 programs, 1 kernel, 4 buffers live: " + ClLive.summary());
        // Multi-kernel plans: im2col + GEMM + bias with its scratch buffer left open (the device must release
        // both), and a layer-norm backward (two kernels) closed by hand, which must give back what it took.
        ConvDesc conv = new ConvDesc(2, 8, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, ConvDesc.ConvPass.FORWARD, true);
        long beforeConv = ClLive.live(ClLive.Kind.MEM);
        Plan convPlan = OpenClTesting.firstSupporting(device, conv).plan(conv);
        assertEquals("opencl-conv-im2col-gemm", convPlan.implementation());
        assertEquals(beforeConv + 1, ClLive.live(ClLive.Kind.MEM), "the im2col scratch is allocated when planning");
        NormDesc norm = new NormDesc(NormDesc.NormKind.LAYER, 3, 7, 1, 1e-5, NormDesc.Mode.BACKWARD);
        long kernelsBefore = ClLive.live(ClLive.Kind.KERNEL);
        Plan normPlan = OpenClTesting.firstSupporting(device, norm).plan(norm);
        assertEquals(kernelsBefore + 2, ClLive.live(ClLive.Kind.KERNEL), "norm backward holds two kernels");
        normPlan.close();
        assertEquals(kernelsBefore, ClLive.live(ClLive.Kind.KERNEL), "closing the plan released both kernels");
        stream.close();
        da.close();
        device.close();
        assertEquals(before, ClLive.live(), "live objects after close: " + ClLive.summary());
        assertTrue(dst.isClosed() && db.isClosed(), "buffers left open are closed with the device");
        assertThrows(IllegalStateException.class, () -> open.execute(device.defaultStream(), Args.of()));
        assertThrows(IllegalStateException.class, () -> device.allocate(DType.F32, 1));
        device.close(); // harmless twice
    }

    @Test void bufferUseAfterCloseThrows() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            var buf = device.allocate(DType.F32, 5);
            buf.close();
            buf.close(); // releasing twice is harmless and releases once
            assertTrue(buf.isClosed());
            assertThrows(IllegalStateException.class, () -> buf.copyFrom(new float[5]));
            assertThrows(IllegalStateException.class, () -> buf.copyTo(new float[5]));
            assertThrows(IllegalStateException.class, () -> buf.get(0));
            assertThrows(IllegalStateException.class, () -> buf.mem("kernel argument"));
        }
    }

    /** Heap slices at an offset (array + byte offset), native segments (direct buffers) and read-only ones (staged). */
    @Test void copiesRoundTripForEveryKindOfHostMemory() {
        try (OpenClDevice device = OpenClTesting.firstDevice(); Arena arena = Arena.ofConfined()) {
            SplittableRandom rnd = new SplittableRandom(11);
            float[] src = random(rnd, 37);
            var buf = device.allocate(DType.F32, 37);
            buf.copyFrom(src);
            float[] back = new float[37];
            buf.copyTo(back);
            assertArrayEquals(src, back);

            float[] part = new float[10];
            Arrays.fill(part, -1);
            buf.copyTo(part, 3, 20, 5); // elements 20..24 into part[3..7]
            for (int i = 0; i < 10; i++) assertEquals(i >= 3 && i < 8 ? src[17 + i] : -1f, part[i], "part[" + i + "]");
            float[] patch = {100, 101, 102};
            buf.copyFrom(patch, 1, 30, 2); // patch[1..2] into elements 30..31
            assertEquals(101f, (float) buf.get(30));
            assertEquals(102f, (float) buf.get(31));
            assertEquals(src[29], (float) buf.get(29));

            MemorySegment nat = arena.allocate(37 * 4L);
            for (int i = 0; i < 37; i++) nat.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 0.5f);
            buf.copyFrom(nat);
            MemorySegment readOnly = MemorySegment.ofArray(random(rnd, 37)).asReadOnly();
            MemorySegment nat2 = arena.allocate(37 * 4L);
            buf.copyTo(nat2);
            for (int i = 0; i < 37; i++) assertEquals(i * 0.5f, nat2.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            buf.copyFrom(readOnly);
            buf.copyTo(back);
            for (int i = 0; i < 37; i++) assertEquals(readOnly.getAtIndex(ValueLayout.JAVA_FLOAT, i), back[i], "staged copy " + i);

            var ints = device.allocate(DType.S32, 4);
            ints.copyFrom(new int[] {1, -2, 3, Integer.MIN_VALUE});
            int[] ib = new int[4];
            ints.copyTo(ib);
            assertArrayEquals(new int[] {1, -2, 3, Integer.MIN_VALUE}, ib);
            assertThrows(IllegalArgumentException.class, () -> buf.copyFrom(new float[36]));
            assertThrows(IllegalArgumentException.class, () -> device.allocate(DType.F32, -1));
        }
    }

    @Test void reduceOverAnInnerAxisMatchesTheReference() {
        // The parity cases cover inner == 1 mostly; this pins the strided (inner > 1) path.
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            ReduceDesc d = new ReduceDesc(ReduceOp.SUM, 3, 7, 5);
            float[] src = random(new SplittableRandom(3), 3 * 7 * 5);
            var ds = device.allocate(DType.F32, src.length);
            var dd = device.allocate(DType.F32, 15);
            ds.copyFrom(src);
            try (Plan p = device.implementations(d.kind()).getFirst().plan(d)) {
                p.execute(device.defaultStream(), Args.of(Arg.SRC, ds, Arg.DST, dd));
            }
            float[] got = new float[15], want = new float[15];
            dd.copyTo(got);
            RefKernels.run(d, Args.of(Arg.SRC, HostBuffer.wrap(src), Arg.DST, HostBuffer.wrap(want)));
            for (int i = 0; i < 15; i++) assertEquals(want[i], got[i], 1e-5f, "dst[" + i + "]");
        }
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }
}
