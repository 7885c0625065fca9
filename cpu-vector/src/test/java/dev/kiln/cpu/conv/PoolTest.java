package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VectorPool's backward passes beside ConvParityTest's shared list, above all average backward gathered from
 * the windows covering each dX row (windows that overlap, are padded or leave gaps) and max backward: against
 * the reference at every width the hardware has (128, 256, 512 bits, forced in this one JVM: small shapes, so
 * the slower several-width compiles do not matter), at awkward sizes that leave a scalar tail after the last
 * vector of a row, rows narrower than a vector (the scalar scatter at the wider widths), ragged edges and rows
 * no window covers; and on 1 and 2 threads, bit for bit.
 */
class PoolTest {
    static List<PoolDesc> cases() {
        List<PoolDesc> list = new ArrayList<>();
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                list.add(new PoolDesc(kind, 2, 3, 33, 57, 3, 3, 2, 2, 1, 1, false, pass)); // ResNet stem pool
                list.add(new PoolDesc(kind, 1, 2, 7, 33, 3, 3, 2, 2, 1, 1, true, pass));
                list.add(new PoolDesc(kind, 1, 2, 57, 7, 3, 3, 2, 2, 1, 1, false, pass)); // rows of 7: < 1 vector at 256/512
                list.add(PoolDesc.of(kind, 2, 3, 57, 33, 2, 2, 0).withPass(pass)); // tiling, ragged last row and column
                list.add(PoolDesc.of(kind, 1, 2, 7, 57, 2, 2, 0).withPass(pass));
                list.add(new PoolDesc(kind, 2, 2, 33, 33, 3, 3, 1, 1, 1, 1, false, pass)); // overlapping, padded
                list.add(new PoolDesc(kind, 1, 3, 7, 57, 3, 3, 1, 1, 0, 0, true, pass)); // overlapping, unpadded
                list.add(new PoolDesc(kind, 1, 2, 17, 40, 2, 2, 3, 3, 0, 0, true, pass)); // gaps: rows and columns no window covers
                list.add(new PoolDesc(kind, 1, 2, 19, 41, 3, 2, 1, 2, 1, 0, false, pass)); // kh != kw, strides differ
            }
        return list;
    }

    @TestFactory Stream<DynamicTest> matchReferenceAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<DynamicTest> tests = new ArrayList<>();
        CpuDevice device = new CpuDevice();
        for (int bits : new int[] {128, 256, 512}) {
            if (bits > VectorSupport.hardwareBits()) {
                System.out.println("PoolTest: " + bits + "-bit widths skipped, the hardware's widest are " + VectorSupport.hardwareBits() + " bits");
                continue;
            }
            ConvParityTest.add(tests, device, ConvImpls.pool(Width.of(bits)), cases(), 7100 + bits);
        }
        return tests.stream();
    }

    /** Many planes, so that the plane tasks split across the threads; outputs poisoned differently before each run. */
    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        KernelImpl impl = ConvImpls.pool(VectorSupport.width());
        List<PoolDesc> list = new ArrayList<>();
        for (PoolKind kind : PoolKind.values()) {
            list.add(new PoolDesc(kind, 8, 16, 33, 57, 3, 3, 2, 2, 1, 1, false, Pass.BACKWARD));
            list.add(new PoolDesc(kind, 4, 16, 33, 33, 3, 3, 1, 1, 1, 1, true, Pass.BACKWARD));
        }
        list.add(PoolDesc.of(PoolKind.MAX, 8, 16, 28, 28, 2, 2, 0).withPass(Pass.BACKWARD));
        return list.stream().map(d -> DynamicTest.dynamicTest(d.pool() + " " + d.shape(), () -> {
            int before = CpuThreads.threads();
            List<HostBuffer> owned = new ArrayList<>();
            try {
                Args a = Args.of();
                SplittableRandom rnd = new SplittableRandom(ConvParityTest.SEED + d.hashCode());
                for (ArgSpec spec : d.args()) {
                    HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                    owned.add(b);
                    a.put(spec.arg(), b);
                    if (spec.access().reads()) fill(b.hostSegment(), spec, d, rnd);
                }
                float[][] runs = new float[2][];
                for (int threads = 1; threads <= 2; threads++) {
                    CpuThreads.setThreads(threads);
                    MemorySegment dx = a.host(dev.kiln.kernels.desc.Arg.DIFF_SRC);
                    dx.fill(threads == 1 ? (byte) 0xFF : (byte) 0x7F); // NaN patterns, different per run
                    try (Plan plan = impl.plan(d)) {
                        plan.execute(null, a);
                    }
                    runs[threads - 1] = dx.toArray(ValueLayout.JAVA_FLOAT);
                }
                for (float v : runs[0]) assertFalse(Float.isNaN(v), d.shape() + ": a dX element was not written");
                assertTrue(Arrays.equals(runs[0], runs[1]), d.pool() + " " + d.shape() + ": 1 and 2 threads differ");
                boolean any = false;
                for (float v : runs[0]) any |= v != 0;
                assertTrue(any, d.shape() + ": dX all zero");
            } finally {
                CpuThreads.setThreads(before);
                for (HostBuffer b : owned) b.close();
            }
        }));
    }

    /**
     * dY random in [-1, 1); max indices a random in-bounds element of each window, so that overlapping windows
     * often name the same element and its gradients add.
     */
    private static void fill(MemorySegment s, ArgSpec spec, PoolDesc p, SplittableRandom rnd) {
        if (spec.dtype() != DType.S32) {
            for (long i = 0; i < spec.count(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
            return;
        }
        long plane = (long) p.p() * p.q();
        for (long i = 0; i < spec.count(); i++) {
            int oy = (int) (i % plane / p.q()), ox = (int) (i % p.q());
            int y0 = oy * p.strideH() - p.padH(), x0 = ox * p.strideW() - p.padW();
            int ya = Math.max(0, y0), yb = Math.min(p.h(), y0 + p.kh()), xa = Math.max(0, x0), xb = Math.min(p.w(), x0 + p.kw());
            s.setAtIndex(ValueLayout.JAVA_INT, i, rnd.nextInt(ya, yb) * p.w() + rnd.nextInt(xa, xb));
        }
    }
}
