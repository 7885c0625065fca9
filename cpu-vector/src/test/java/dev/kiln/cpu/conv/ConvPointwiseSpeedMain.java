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
 * Same-JVM A/B of the 1x1 forward (not a test): {@link ConvPointwise} with B packed during its first use ("fused"),
 * the GEMM driver's batched product ({@link VectorConv#POINTWISE_OWN} off) and ConvPointwise packing each block
 * before its microkernels ({@link ConvPointwise#FUSED} off), alternating rounds, medians of process CPU time and wall time per
 * call, on off-heap buffers. Arguments: threads, rounds, then the shape n,c,h,w,k (default the issue's
 * 32,256,28,28,64). From the repository root after a test-compile with {@code -Dkiln.buildSuffix=-conv1x1}:
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
        double[][] cpu = new double[3][rounds], wall = new double[3][rounds];
        for (int warm = 0; warm < 3; warm++)
            for (int v = 0; v < 3; v++) {
                VectorConv.POINTWISE_OWN = v != 1;
                ConvPointwise.FUSED = v != 2;
                for (int r = 0; r < reps; r++) VectorConv.run(w, d, a);
            }
        for (int round = 0; round < rounds; round++)
            for (int v = 0; v < 3; v++) {
                VectorConv.POINTWISE_OWN = v != 1;
                ConvPointwise.FUSED = v != 2;
                long c0 = os.getProcessCpuTime(), t0 = System.nanoTime();
                for (int r = 0; r < reps; r++) VectorConv.run(w, d, a);
                cpu[v][round] = (os.getProcessCpuTime() - c0) / 1e6 / reps;
                wall[v][round] = (System.nanoTime() - t0) / 1e6 / reps;
            }
        VectorConv.POINTWISE_OWN = true;
        ConvPointwise.FUSED = true;
        String[] names = {"fused", "GEMM batched", "packed first"};
        for (int v = 0; v < 3; v++) {
            double mc = median(cpu[v]), mw = median(wall[v]), bw = Arrays.stream(wall[v]).min().orElse(0);
            System.out.printf(Locale.ROOT, "%-14s %s threads %d: median CPU %.3f ms/call (%.1f GFLOP/s per CPU-second), median wall %.3f ms, best wall %.3f ms (%.1f GFLOP/s)%n",
                    names[v], d.shape(), threads, mc, d.flops() / mc / 1e6, mw, bw, d.flops() / bw / 1e6);
        }
        System.out.printf(Locale.ROOT, "wall median ratios to fused: GEMM %.3f, packed first %.3f%n",
                median(wall[1]) / median(wall[0]), median(wall[2]) / median(wall[0]));
        for (HostBuffer b : buffers) b.close();
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
