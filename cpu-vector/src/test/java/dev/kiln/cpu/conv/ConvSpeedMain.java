package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A quick throughput printout for the conv-package kernels (not a test; bench/ holds the JMH classes): a
 * measured FMA peak, then GFLOP/s (the op's own count: 2 x multiply-adds of the forward) for the
 * Fashion-MNIST CNN's conv layers at batch 64 and the CPU issue's 3x3 C64->K64 56x56 shape, every pass, the
 * reference at a small batch for scale, and pooling/depthwise in GB/s of compulsory traffic. Best of repeated runs.
 * After {@code mvn -Dkiln.buildSuffix=-conv -pl cpu-vector -am test-compile}, from the repository root:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-conv/classes:cpu-vector/target-conv/test-classes:kernels/target-conv/classes \
 *      dev.kiln.cpu.conv.ConvSpeedMain 2 32     # threads, batch of the 56x56 shape
 * </pre>
 */
public final class ConvSpeedMain {
    private ConvSpeedMain() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int bigBatch = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        CpuThreads.setThreads(threads);
        Width w = VectorSupport.width();
        double peak1 = fmaPeak(w, 1), peakAll = fmaPeak(w, threads);
        System.out.printf(Locale.ROOT, "width %s, threads %d; measured FMA peak %.1f GFLOP/s (1 thread), %.1f (%d threads)%n",
                w, threads, peak1, peakAll, threads);
        List<ConvDesc> shapes = List.of(ConvDesc.conv2d(64, 1, 28, 28, 32, 5, 5, 1, 2), ConvDesc.conv2d(64, 32, 14, 14, 64, 5, 5, 1, 2),
                ConvDesc.conv2d(bigBatch, 64, 56, 56, 64, 3, 3, 1, 1));
        for (ConvDesc base : shapes)
            for (ConvPass pass : ConvPass.values()) {
                ConvDesc d = base.withPass(pass).withBias(pass != ConvPass.BACKWARD_DATA);
                double gf = time(d, w, false);
                double ref = time(new ConvDesc(2, d.c(), d.h(), d.w(), d.k(), d.r(), d.s(), 1, 1, d.padH(), d.padW(), 1, 1, 1,
                        false, 0, 0, pass, d.bias()), w, true);
                System.out.printf(Locale.ROOT, "%-18s %-40s %8.2f GFLOP/s  %5.1f%% of peak  ref(n=2) %6.3f GFLOP/s  x%.0f%n",
                        d.opName(), d.shape(), gf, 100 * gf / peakAll, ref, gf / ref);
            }
        ConvDesc dw = ConvDesc.conv2d(32, 64, 56, 56, 64, 3, 3, 1, 1).withGroups(64);
        for (ConvPass pass : ConvPass.values()) {
            ConvDesc d = dw.withPass(pass);
            double gf = time(d, w, false);
            double bytes = 4.0 * (d.srcCount() + d.dstCount() + d.weightCount());
            System.out.printf(Locale.ROOT, "%-18s %-40s %8.2f GFLOP/s  %6.1f GB/s of compulsory traffic%n", d.opName(), d.shape(),
                    gf, gf * bytes / d.flops());
        }
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                PoolDesc d = PoolDesc.of(kind, 64, 32, 28, 28, 2, 2, 0).withPass(pass);
                double gf = time(d, w, false);
                double bytes = 4.0 * (d.srcCount() + d.dstCount() * (kind == PoolKind.MAX ? 2 : 1));
                System.out.printf(Locale.ROOT, "%-18s %-40s %6.1f GB/s of compulsory traffic%n", d.opName(), d.shape(), gf * bytes / d.flops());
            }
    }

    /** Best GFLOP/s (the op's own flop count) over about two seconds of repeats. */
    private static double time(OpDesc d, Width w, boolean reference) {
        List<HostBuffer> buffers = new ArrayList<>();
        try {
            Args a = Args.of();
            SplittableRandom rnd = new SplittableRandom(1);
            for (ArgSpec spec : d.args()) {
                HostBuffer b = HostBuffer.allocate(null, spec.dtype(), spec.count());
                buffers.add(b);
                a.put(spec.arg(), b);
                for (long i = 0; i < spec.count(); i++) {
                    if (spec.dtype() == dev.kiln.kernels.DType.S32) b.hostSegment().setAtIndex(ValueLayout.JAVA_INT, i, 0);
                    else b.hostSegment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble());
                }
            }
            Runnable body = reference ? () -> RefKernels.run(d, a)
                    : d instanceof ConvDesc c ? () -> VectorConv.run(w, c, a) : () -> VectorPool.run(w, (PoolDesc) d, a);
            double best = 0;
            long until = System.nanoTime() + (reference ? 1_000_000_000L : 2_000_000_000L);
            do {
                long t0 = System.nanoTime();
                body.run();
                best = Math.max(best, d.flops() / (System.nanoTime() - t0));
            } while (System.nanoTime() < until);
            return best;
        } finally {
            for (HostBuffer b : buffers) b.close();
        }
    }

    /** GFLOP/s of 12 independent FMA chains per thread, all threads at once. */
    private static double fmaPeak(Width w, int threads) {
        int iters = 20_000_000;
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            float[] sink = new float[threads];
            long t0 = System.nanoTime();
            CpuThreads.parallelFor(threads, t -> sink[t] = fmaLoop(w, iters));
            long ns = System.nanoTime() - t0;
            best = Math.max(best, 2.0 * 12 * w.floats().length() * iters * threads / ns);
            if (sink[0] == 42) System.out.print("");
        }
        return best;
    }

    private static float fmaLoop(Width w, int iters) {
        var s = w.floats();
        FloatVector x = FloatVector.broadcast(s, 0.999f), y = FloatVector.broadcast(s, 0.001f);
        FloatVector a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y, a8 = y, a9 = y, a10 = y, a11 = y;
        for (int i = 0; i < iters; i++) {
            a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y);
            a4 = a4.fma(x, y); a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y);
            a8 = a8.fma(x, y); a9 = a9.fma(x, y); a10 = a10.fma(x, y); a11 = a11.fma(x, y);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).lane(0);
    }
}
