package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Results are bit-identical on 1 and 2 threads, at the Fashion-MNIST CNN's real shapes (batch 64: conv
 * 1->32 5x5 pad 2 on 28x28, conv 32->64 5x5 pad 2 on 14x14, 2x2 max-pool) in every pass, and on grouped,
 * depthwise and transposed shapes. Outputs are poisoned with a different pattern before each run (NaN, then
 * 2.0E38 / 0x7F7F7F7F), so an element a run leaves unwritten fails the comparison; correctness against the reference is {@link ConvParityTest}'s job.
 */
class ConvThreadsTest {
    private int before;

    @BeforeEach void remember() { before = CpuThreads.threads(); }

    @AfterEach void restore() { CpuThreads.setThreads(before); }

    static List<OpDesc> cases() {
        List<OpDesc> list = new ArrayList<>();
        List<ConvDesc> convs = List.of(ConvDesc.conv2d(64, 1, 28, 28, 32, 5, 5, 1, 2), ConvDesc.conv2d(64, 32, 14, 14, 64, 5, 5, 1, 2),
                ConvDesc.conv2d(3, 12, 19, 17, 18, 3, 3, 2, 1).withGroups(3), ConvDesc.conv2d(4, 16, 21, 21, 16, 3, 3, 1, 1).withGroups(16),
                ConvDesc.conv2d(3, 10, 9, 9, 7, 4, 4, 2, 1).asTransposed(1, 1), ConvDesc.conv2d(5, 40, 12, 12, 24, 1, 1, 1, 0),
                ConvDesc.conv2d(2, 120, 9, 11, 8, 3, 3, 1, 1), ConvDesc.conv2d(3, 3, 45, 45, 64, 7, 7, 2, 3),
                ConvDesc.conv2d(4, 64, 20, 28, 64, 3, 3, 1, 1), // Winograd forward and backward-data
                ConvDesc.conv2d(2, 3, 80, 80, 64, 7, 7, 2, 3)); // ConvWeightGemm with two depth panels
        for (ConvDesc d : convs)
            for (ConvPass pass : ConvPass.values()) list.add(d.withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA));
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                list.add(PoolDesc.of(kind, 64, 32, 28, 28, 2, 2, 0).withPass(pass));
                list.add(new PoolDesc(kind, 3, 5, 17, 19, 3, 3, 2, 1, 1, 1, true, pass));
            }
        return list;
    }

    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        return cases().stream().map(d -> DynamicTest.dynamicTest(d.opName() + " " + d.shape(), () -> check(w, d)));
    }

    /**
     * Runs {@code d} on the conv or pool kernel at {@code w} on 1 and then 2 threads from the same inputs and asserts
     * bit-identical outputs (also used by DepthwiseTest and PoolTest); the thread count is restored afterwards.
     */
    static void check(Width w, OpDesc d) {
        check(d instanceof ConvDesc ? ConvImpls.conv(w) : ConvImpls.pool(w), w, d);
    }

    /** As {@link #check(Width, OpDesc)} with the kernel given (ConvWinogradTest forces one). */
    static void check(KernelImpl impl, Width w, OpDesc d) {
        List<HostBuffer> buffers = new ArrayList<>();
        int threadsBefore = CpuThreads.threads();
        try {
            Args args = Args.of();
            SplittableRandom rnd = new SplittableRandom(ConvParityTest.SEED + d.hashCode());
            for (ArgSpec spec : d.args()) {
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                buffers.add(b);
                args.put(spec.arg(), b);
                if (spec.access().reads()) fill(b, spec, d, rnd);
            }
            List<byte[]> one = run(impl, d, args, 1), two = run(impl, d, args, 2);
            for (int i = 0; i < one.size(); i++) {
                byte[] a = one.get(i), b = two.get(i);
                assertTrue(java.util.Arrays.equals(a, b), d.opName() + " " + d.shape() + ": output " + i + " differs between 1 and 2 threads");
                if (i == 0) assertTrue(!allZero(a), d.opName() + " " + d.shape() + ": output is all zero (mistrusted)");
            }
        } finally {
            CpuThreads.setThreads(threadsBefore);
            for (HostBuffer b : buffers) b.close();
        }
    }

    /**
     * Random floats in [-1, 1); pool indices a random in-bounds element of each window, so that overlapping windows
     * often name the same element and its gradients add.
     */
    private static void fill(HostBuffer b, ArgSpec spec, OpDesc d, SplittableRandom rnd) {
        MemorySegment s = b.hostSegment();
        if (spec.dtype() == DType.S32) {
            PoolDesc p = (PoolDesc) d;
            long plane = (long) p.p() * p.q();
            for (long i = 0; i < spec.count(); i++) {
                int oy = (int) (i % plane / p.q()), ox = (int) (i % p.q());
                int y0 = oy * p.strideH() - p.padH(), x0 = ox * p.strideW() - p.padW();
                int ya = Math.max(0, y0), yb = Math.min(p.h(), y0 + p.kh()), xa = Math.max(0, x0), xb = Math.min(p.w(), x0 + p.kw());
                s.setAtIndex(ValueLayout.JAVA_INT, i, rnd.nextInt(ya, yb) * p.w() + rnd.nextInt(xa, xb));
            }
            return;
        }
        for (long i = 0; i < spec.count(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
    }

    private static List<byte[]> run(KernelImpl impl, OpDesc d, Args args, int threads) {
        CpuThreads.setThreads(threads);
        for (ArgSpec spec : d.args())
            if (spec.access().writes()) args.host(spec.arg()).fill(threads == 1 ? (byte) 0xFF : (byte) 0x7F);
        try (Plan plan = impl.plan(d)) {
            plan.execute(null, args);
        }
        List<byte[]> out = new ArrayList<>();
        for (ArgSpec spec : d.args())
            if (spec.access().writes()) out.add(args.host(spec.arg()).toArray(ValueLayout.JAVA_BYTE));
        return out;
    }

    private static boolean allZero(byte[] a) {
        for (byte x : a) if (x != 0) return false;
        return true;
    }
}
