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
 * The three passes of a 1x1 convolution in one JVM (not a test), alternating rounds, so that backward / forward
 * time-per-FLOP ratios come from the same conditions on a shared machine: medians per call of the calling thread's
 * CPU time (all of the work at 1 thread; about half at 2), of process CPU time and of wall time, off-heap buffers.
 * Arguments: threads, rounds, then the shape n,c,h,w,k (default 32,256,28,28,64). From the repository root after a
 * test-compile with {@code -Dkiln.buildSuffix=-conv1x1}:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-conv1x1/classes:cpu-vector/target-conv1x1/test-classes:kernels/target-conv1x1/classes \
 *      dev.kiln.cpu.conv.ConvPointwiseDirectionsMain 1 11
 * </pre>
 */
public final class ConvPointwiseDirectionsMain {
    private ConvPointwiseDirectionsMain() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1, rounds = args.length > 1 ? Integer.parseInt(args[1]) : 11;
        int[] s = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {32, 256, 28, 28, 64};
        CpuThreads.setThreads(threads);
        Width w = VectorSupport.width();
        ConvPass[] passes = {ConvPass.FORWARD, ConvPass.BACKWARD_DATA, ConvPass.BACKWARD_WEIGHTS};
        ConvDesc base = ConvDesc.conv2d(s[0], s[1], s[2], s[3], s[4], 1, 1, 1, 0);
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        var mx = ManagementFactory.getThreadMXBean();
        List<HostBuffer> buffers = new ArrayList<>();
        ConvDesc[] d = new ConvDesc[3];
        Args[] a = new Args[3];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int v = 0; v < 3; v++) {
            d[v] = base.withPass(passes[v]);
            a[v] = Args.of();
            for (ArgSpec spec : d[v].args()) {
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                buffers.add(b);
                a[v].put(spec.arg(), b);
                for (long i = 0; i < spec.count(); i++) b.hostSegment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
            }
        }
        int reps = Math.max(1, (int) (1.5e10 / d[0].flops()));
        double[][] own = new double[3][rounds], cpu = new double[3][rounds], wall = new double[3][rounds];
        for (int warm = 0; warm < 3; warm++)
            for (int v = 0; v < 3; v++)
                for (int r = 0; r < reps; r++) VectorConv.run(w, d[v], a[v]);
        for (int round = 0; round < rounds; round++)
            for (int v = 0; v < 3; v++) {
                long c0 = os.getProcessCpuTime(), t0 = System.nanoTime(), o0 = mx.getCurrentThreadCpuTime();
                for (int r = 0; r < reps; r++) VectorConv.run(w, d[v], a[v]);
                own[v][round] = (mx.getCurrentThreadCpuTime() - o0) / 1e6 / reps;
                cpu[v][round] = (os.getProcessCpuTime() - c0) / 1e6 / reps;
                wall[v][round] = (System.nanoTime() - t0) / 1e6 / reps;
            }
        for (int v = 0; v < 3; v++)
            System.out.printf(Locale.ROOT, "%-17s %s threads %d: median calling-thread CPU %.3f ms/call (%.1f GFLOP/s), process CPU %.3f ms, wall %.3f ms (%.1f GFLOP/s)%n",
                    passes[v], base.shape(), threads, median(own[v]), d[v].flops() / median(own[v]) / 1e6, median(cpu[v]),
                    median(wall[v]), d[v].flops() / median(wall[v]) / 1e6);
        for (int v = 1; v < 3; v++) // every pass has the forward's FLOP count here
            System.out.printf(Locale.ROOT, "%s / FORWARD time per FLOP: calling-thread CPU %.2f, process CPU %.2f, wall %.2f%n", passes[v],
                    median(own[v]) / median(own[0]) * d[0].flops() / d[v].flops(), median(cpu[v]) / median(cpu[0]) * d[0].flops() / d[v].flops(),
                    median(wall[v]) / median(wall[0]) * d[0].flops() / d[v].flops());
        for (HostBuffer b : buffers) b.close();
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
