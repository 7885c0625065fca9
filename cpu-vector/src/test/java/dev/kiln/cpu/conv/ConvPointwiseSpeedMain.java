package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.management.ManagementFactory;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Same-JVM A/B of the 1x1 forward (not a test): {@link ConvPointwise}, the same with the 4-vector kernel on a last
 * sliver one vector wide ({@link ConvPointwise#NARROW_EDGE} off), and the GEMM driver's batched product
 * ({@link VectorConv#POINTWISE_OWN} off), alternating rounds, medians per call of the calling thread's CPU time
 * (the whole work at 1 thread), process CPU time and wall time, on off-heap buffers. Arguments: threads, rounds,
 * then the shape n,c,h,w,k (default the 32,256,28,28,64). From the repository root after a test-compile with {@code -Dkiln.buildSuffix=-conv1x1}:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-conv1x1/classes:cpu-vector/target-conv1x1/test-classes:kernels/target-conv1x1/classes \
 *      dev.kiln.cpu.conv.ConvPointwiseSpeedMain 1 15
 * </pre>
 */
public final class ConvPointwiseSpeedMain {
    private ConvPointwiseSpeedMain() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1, rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        int[] s = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {32, 256, 28, 28, 64};
        CpuThreads.setThreads(threads);
        Width w = VectorSupport.width();
        ConvDesc d = ConvDesc.conv2d(s[0], s[1], s[2], s[3], s[4], 1, 1, 1, 0).withPass(ConvPass.FORWARD);
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        List<HostBuffer> buffers = new ArrayList<>();
        Args a = Args.of();
        SplittableRandom rnd = new SplittableRandom(1);
        for (ArgSpec spec : d.args()) {
            HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
            buffers.add(b);
            a.put(spec.arg(), b);
            for (long i = 0; i < spec.count(); i++) b.hostSegment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        }
        int reps = Math.max(1, (int) (1.5e10 / d.flops()));
        double[][] cpu = new double[3][rounds], wall = new double[3][rounds], own = new double[3][rounds];
        var mx = ManagementFactory.getThreadMXBean();
        for (int warm = 0; warm < 3; warm++)
            for (int v = 0; v < 3; v++) {
                variant(v);
                for (int r = 0; r < reps; r++) VectorConv.run(w, d, a);
            }
        for (int round = 0; round < rounds; round++)
            for (int v = 0; v < 3; v++) {
                variant(v);
                long c0 = os.getProcessCpuTime(), t0 = System.nanoTime(), own0 = mx.getCurrentThreadCpuTime();
                for (int r = 0; r < reps; r++) VectorConv.run(w, d, a);
                cpu[v][round] = (os.getProcessCpuTime() - c0) / 1e6 / reps;
                own[v][round] = (mx.getCurrentThreadCpuTime() - own0) / 1e6 / reps;
                wall[v][round] = (System.nanoTime() - t0) / 1e6 / reps;
            }
        variant(0);
        String[] names = {"ConvPointwise", "4-vector edge", "GEMM batched"};
        for (int v = 0; v < 3; v++) {
            double mc = median(cpu[v]), mw = median(wall[v]), bw = Arrays.stream(wall[v]).min().orElse(0), mo = median(own[v]);
            System.out.printf(Locale.ROOT, "%-14s %s threads %d: median calling-thread CPU %.3f ms/call (%.1f GFLOP/s), process CPU %.3f ms, median wall %.3f ms (%.1f GFLOP/s), best wall %.3f ms%n",
                    names[v], d.shape(), threads, mo, d.flops() / mo / 1e6, mc, mw, d.flops() / mw / 1e6, bw);
        }
        System.out.printf(Locale.ROOT, "median ratios to ConvPointwise: 4-vector edge wall %.3f thread-CPU %.3f, GEMM wall %.3f thread-CPU %.3f%n",
                median(wall[1]) / median(wall[0]), median(own[1]) / median(own[0]), median(wall[2]) / median(wall[0]),
                median(own[2]) / median(own[0]));
        for (HostBuffer b : buffers) b.close();
    }

    /** 0: ConvPointwise; 1: ConvPointwise with the 4-vector kernel on a one-vector last sliver; 2: the GEMM driver's batched product. */
    private static void variant(int v) {
        VectorConv.POINTWISE_OWN = v != 2;
        ConvPointwise.NARROW_EDGE = v != 1;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
