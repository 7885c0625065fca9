package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Same-JVM A/B of pooling on the Fashion-MNIST cnn's narrow planes (N x 32 x 28x28 and N x 64 x 14x14, 2x2 stride
 * 2), or wider ones: VectorPool with {@link PoolNarrow} against its own row path alone, alternating old and new for
 * several rounds, medians of wall time and of the CPU time of every live thread (so the figure holds on a
 * shared machine). Not a test. After {@code mvn -Dkiln.buildSuffix=-pool -pl cpu-vector -am test-compile}, from
 * the repository root:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-pool/classes:cpu-vector/target-pool/test-classes:kernels/target-pool/classes \
 *      dev.kiln.cpu.conv.PoolNarrowSpeedMain 2 256 7        # threads, batch, rounds
 *      dev.kiln.cpu.conv.PoolNarrowSpeedMain 1 16 7 wide    # N x 64 x 56x56 and 112x112 instead
 * </pre>
 * {@code -Dkiln.cpu.vectorBits=256} (or 128) forces a narrower width.
 * <pre>
 * </pre>
 */
public final class PoolNarrowSpeedMain {
    private PoolNarrowSpeedMain() {}

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2, n = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        boolean wide = args.length > 3 && args[3].equals("wide"); // 56x56 and 112x112 planes (rows of 28 and 56 outputs)
        CpuThreads.setThreads(threads);
        Width w = VectorSupport.width();
        System.out.printf(Locale.ROOT, "width %s, threads %d, batch %d, %d rounds (medians; cpu = all threads' CPU time)%n", w, threads, n, rounds);
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values())
                for (int[] shape : wide ? new int[][] {{64, 56}, {64, 112}} : new int[][] {{32, 28}, {64, 14}}) {
                    PoolDesc d = PoolDesc.of(kind, n, shape[0], shape[1], shape[1], 2, 2, 0).withPass(pass);
                    ab(w, d, rounds);
                }
    }

    private static void ab(Width w, PoolDesc d, int rounds) {
        List<HostBuffer> buffers = new ArrayList<>();
        try {
            Args a = Args.of();
            SplittableRandom rnd = new SplittableRandom(1);
            for (ArgSpec spec : d.args()) {
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                buffers.add(b);
                a.put(spec.arg(), b);
                if (spec.access().reads() && spec.dtype() != DType.S32)
                    for (long i = 0; i < spec.count(); i++) b.hostSegment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble());
            }
            if (d.pass() == Pass.BACKWARD && d.pool() == PoolKind.MAX) { // the argmax of a random input, as training has it
                try (HostBuffer x = HostBuffer.allocate(null, DType.F32, d.srcCount()); HostBuffer y = HostBuffer.allocate(null, DType.F32, d.dstCount())) {
                    for (long i = 0; i < d.srcCount(); i++) x.hostSegment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble());
                    VectorPool.run(w, d.withPass(Pass.FORWARD), Args.of(Arg.SRC, x, Arg.DST, y, Arg.INDICES, a.get(Arg.INDICES)));
                }
            }
            int reps = Math.max(1, (int) (4e6 / d.srcCount() * 20));
            double[][] wall = new double[2][rounds], cpu = new double[2][rounds];
            for (int warm = 0; warm < 3; warm++)
                for (int v = 0; v < 2; v++) for (int r = 0; r < reps; r++) VectorPool.run(w, d, a, v == 1);
            for (int round = 0; round < rounds; round++)
                for (int v = 0; v < 2; v++) {
                    long c0 = cpuNanos(), t0 = System.nanoTime();
                    for (int r = 0; r < reps; r++) VectorPool.run(w, d, a, v == 1);
                    wall[v][round] = (System.nanoTime() - t0) / 1e6 / reps;
                    cpu[v][round] = (cpuNanos() - c0) / 1e6 / reps;
                }
            double ow = median(wall[0]), nw = median(wall[1]), oc = median(cpu[0]), nc = median(cpu[1]);
            System.out.printf(Locale.ROOT, "%-14s %-34s old %7.3f ms (cpu %7.3f)  new %7.3f ms (cpu %7.3f)  wall x%.1f  cpu x%.1f%n",
                    d.opName(), d.shape(), ow, oc, nw, nc, ow / nw, oc / nc);
            if (d.pool() == PoolKind.MAX && d.pass() == Pass.FORWARD) { // inference: new with and without INDICES, alternating
                PoolDesc bare = d.withoutIndices();
                for (int round = 0; round < rounds; round++)
                    for (int v = 0; v < 2; v++) {
                        long c0 = cpuNanos();
                        for (int r = 0; r < reps; r++) VectorPool.run(w, v == 0 ? d : bare, a, true);
                        cpu[v][round] = (cpuNanos() - c0) / 1e6 / reps;
                    }
                System.out.printf(Locale.ROOT, "%-14s %-34s new with INDICES cpu %7.3f ms, without %7.3f ms  x%.2f%n", "", "",
                        median(cpu[0]), median(cpu[1]), median(cpu[0]) / median(cpu[1]));
            }
        } finally {
            for (HostBuffer b : buffers) b.close();
        }
    }

    /** CPU time of every live thread (the caller and the pool's workers). */
    private static long cpuNanos() {
        long sum = 0;
        for (long id : THREADS.getAllThreadIds()) {
            long t = THREADS.getThreadCpuTime(id);
            if (t > 0) sum += t;
        }
        return sum;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
