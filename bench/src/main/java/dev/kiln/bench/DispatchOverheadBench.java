package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.Blas;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code kiln bench dispatch}: what the public facade costs above the kernel's own time, for a tiny op
 * where that cost shows. Two loops over the same square SGEMM on {@code float[]}: {@code Blas.sgemm}
 * (descriptor built, arguments wrapped and validated, plan looked up in dispatch's cache, then executed)
 * and the CPU backend's plan executed directly on pre-wrapped buffers (the kernel alone). Each figure is
 * the median of batches of {@link #BATCH} calls (one call is ~100 ns, too short to time alone), and the
 * two loops alternate {@link #ROUNDS} times so a noisy neighbour hits both; the lowest median per side is
 * kept. The overhead is their difference.
 */
final class DispatchOverheadBench {
    static final int BATCH = 2000, ROUNDS = 5;

    record Row(int size, double facadeNs, double kernelNs, String implementation) {
        double overheadNs() { return facadeNs - kernelNs; }
    }

    private DispatchOverheadBench() {}

    static Row measure(int size, double secondsPerRound) throws Backends.Unavailable {
        SplittableRandom random = new SplittableRandom(42);
        float[] a = new float[size * size], b = new float[size * size], c = new float[size * size];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) random.nextDouble(-1, 1);
            b[i] = (float) random.nextDouble(-1, 1);
        }
        Device cpu = Backends.device("cpu");
        GemmDesc desc = new GemmDesc(DType.F32, Transpose.N, Transpose.N, size, size, size, size, size, size, 1, 0,
                1, 0, 0, 0, false, Activation.NONE);
        try (Plan plan = Backends.plan(cpu, "cpu", desc)) {
            Args args = Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(c));
            Stream stream = cpu.defaultStream();
            Runnable facade = () -> {
                for (int i = 0; i < BATCH; i++) Blas.sgemm(size, size, size, a, b, c);
            };
            Runnable kernel = () -> {
                for (int i = 0; i < BATCH; i++) plan.execute(stream, args);
            };
            double facadeBest = Double.MAX_VALUE, kernelBest = Double.MAX_VALUE;
            for (int r = 0; r < ROUNDS; r++) {
                facadeBest = Math.min(facadeBest, Timing.measure(facade, secondsPerRound).median());
                kernelBest = Math.min(kernelBest, Timing.measure(kernel, secondsPerRound).median());
            }
            return new Row(size, facadeBest / BATCH * 1e9, kernelBest / BATCH * 1e9, plan.implementation());
        }
    }

    static void print(PrintWriter out, Iterable<Row> rows) {
        out.println("# sgemm NN on float[] through Blas.sgemm (facade) vs the cpu plan executed directly (kernel);"
                + " median of " + BATCH + "-call batches, best of " + ROUNDS + " alternating rounds; target: overhead <= 500 ns");
        out.printf(Locale.ROOT, "%-6s %-16s %12s %12s %12s%n", "size", "implementation", "facade ns", "kernel ns", "overhead ns");
        for (Row r : rows)
            out.printf(Locale.ROOT, "%-6d %-16s %12.1f %12.1f %12.1f%n", r.size(), r.implementation(), r.facadeNs(), r.kernelNs(), r.overheadNs());
        out.flush();
    }
}
