package dev.kiln.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code kiln bench}: the machine's peak and bandwidth, and GEMM/GEMV tables against OpenBLAS. Thin:
 * options are parsed here, the work is in {@link PeakBench}, {@link MemBench} and {@link GemmBench}.
 * Output goes to the command line's {@code out} writer so callers (and tests) can capture it.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure peak FLOP/s, memory bandwidth, and GEMM/GEMV against OpenBLAS.",
        subcommands = {BenchCommand.Peak.class, BenchCommand.Gemm.class, BenchCommand.Gemv.class,
                ConvCommand.class, EltwiseCommand.class, Blas1Command.class,
                DispatchCommand.class, SpmmCommand.class, QGemmCommand.class, LmulPrecisionCommand.class, QuantErrorCommand.class})
public final class BenchCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(spec.commandLine().getOut()); }

    /** Standalone entry point: {@code java ... dev.kiln.bench.BenchCommand gemm --sizes 256}. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchCommand()).execute(args));
    }

    static List<Integer> defaultThreads() {
        LinkedHashSet<Integer> t = new LinkedHashSet<>(List.of(1, Runtime.getRuntime().availableProcessors()));
        return new ArrayList<>(t);
    }

    @Command(name = "peak", mixinStandardHelpOptions = true,
            description = "Vector FMA peak (GFLOP/s, f32, registers only) and streaming memory bandwidth (GB/s).")
    static final class Peak implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Option(names = "--threads", split = ",", description = "Thread counts (default: 1 and all processors).")
        List<Integer> threads;

        @Option(names = "--mb", defaultValue = "256", description = "Bandwidth buffer size in MB (default: ${DEFAULT-VALUE}).")
        int megabytes;

        @Override public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<Integer> list = threads == null ? defaultThreads() : threads;
            out.printf(Locale.ROOT, "# FMA peak: %d fma chains of %d-bit FloatVector in registers, best of 10 runs of 0.05 s%n",
                    PeakBench.CHAINS, PeakBench.vectorBits());
            out.printf(Locale.ROOT, "%-8s %12s%n", "threads", "GFLOP/s");
            for (int t : list) out.printf(Locale.ROOT, "%-8d %12.1f%n", t, PeakBench.gflops(t, 0.05, 10));
            out.printf(Locale.ROOT, "# memory: %d MB native buffer; read = vector sum, copy = (read+write bytes)/s, best of 10%n", megabytes);
            out.printf(Locale.ROOT, "%-8s %12s %12s%n", "threads", "read GB/s", "copy GB/s");
            for (int t : list) {
                MemBench.Bandwidth bw = MemBench.measure(t, megabytes * (1L << 20), 10);
                out.printf(Locale.ROOT, "%-8d %12.1f %12.1f%n", t, bw.readGBps(), bw.copyGBps());
            }
            out.flush();
            return 0;
        }
    }

    /** Options shared by gemm and gemv. */
    abstract static class Matmul implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Option(names = "--threads", split = ",", description = "Thread counts for the CPU backend and OpenBLAS (default: 1 and all processors).")
        List<Integer> threads;

        @Option(names = "--backend", split = ",", description = "Kiln backends, e.g. cpu,opencl or cpu/vector-gemm (default: every available one).")
        List<String> backends = new ArrayList<>();

        @Option(names = "--json", description = "Also write the rows as a JSON array to this file.")
        Path json;

        @Option(names = "--time", defaultValue = "0.5", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Option(names = "--max-call", defaultValue = "10", description = "Skip a backend for a shape when its last rate predicts one call over this many seconds (default: ${DEFAULT-VALUE}).")
        double maxCallSeconds;

        @Option(names = "--warmup", defaultValue = "2", description = "JIT warm-up per backend before the table, seconds (default: ${DEFAULT-VALUE}).")
        double warmupSeconds;

        @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
        long seed;

        abstract GemmBench.Op op();

        abstract String sizes();

        @Override public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            GemmBench.Config cfg;
            try {
                cfg = new GemmBench.Config(op(), GemmBench.Shape.parseList(op(), sizes()),
                        threads == null ? defaultThreads() : threads, backends, seconds, maxCallSeconds, warmupSeconds, seed);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            List<BenchRow> rows = GemmBench.run(cfg, out);
            if (json != null) {
                Report.writeJson(json, rows);
                out.println("# wrote " + rows.size() + " rows to " + json);
            }
            out.flush();
            boolean wrong = rows.stream().anyMatch(r -> r.check().startsWith("WRONG"));
            return rows.isEmpty() || wrong ? 1 : 0;
        }
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = "SGEMM (row-major, NN) per backend and thread count, beside OpenBLAS cblas_sgemm.")
    static final class Gemm extends Matmul {
        @Option(names = "--sizes", defaultValue = GemmBench.DEFAULT_GEMM_SIZES,
                description = "N (square) or MxNxK (C is MxN, inner K), comma-separated (default: ${DEFAULT-VALUE}).")
        String sizes;

        @Override GemmBench.Op op() { return GemmBench.Op.GEMM; }

        @Override String sizes() { return sizes; }
    }

    @Command(name = "gemv", mixinStandardHelpOptions = true,
            description = "SGEMV y = A x (A is MxK, row-major) per backend, beside OpenBLAS cblas_sgemv.")
    static final class Gemv extends Matmul {
        @Option(names = "--sizes", defaultValue = GemmBench.DEFAULT_GEMV_SIZES,
                description = "N (square) or MxK, comma-separated (default: ${DEFAULT-VALUE}).")
        String sizes;

        @Override GemmBench.Op op() { return GemmBench.Op.GEMV; }

        @Override String sizes() { return sizes; }
    }
}
