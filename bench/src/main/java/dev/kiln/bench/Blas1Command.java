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
import java.util.List;
import java.util.concurrent.Callable;

/** {@code kiln bench blas1}: options here, the measuring in {@link Blas1Bench}. */
@Command(name = "blas1", mixinStandardHelpOptions = true,
        description = "sdot, saxpy, sscal per backend and thread count: GB/s, share of the measured copy bandwidth, and OpenBLAS beside them.")
final class Blas1Command implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--ops", defaultValue = Blas1Bench.DEFAULT_OPS, description = "dot, axpy, scal (default: ${DEFAULT-VALUE}).")
    String ops;

    @Option(names = "--sizes", defaultValue = Blas1Bench.DEFAULT_SIZES, description = "Vector lengths, comma-separated (default: ${DEFAULT-VALUE}).")
    String sizes;

    @Option(names = "--threads", split = ",", description = "Thread counts for the CPU backend and OpenBLAS (default: 1 and all processors).")
    List<Integer> threads;

    @Option(names = "--backend", split = ",", description = "Kiln backends, e.g. cpu or cpu/ref (default: cpu).")
    List<String> backends = new ArrayList<>(List.of("cpu"));

    @Option(names = "--json", description = "Also write the rows as a JSON array to this file (keys op, backend, n, threads,"
            + " seconds, gbps, pct_bandwidth, peer_gbps, ratio).")
    Path json;

    @Option(names = "--time", defaultValue = "0.5", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Blas1Bench.Config cfg;
        try {
            cfg = new Blas1Bench.Config(Blas1Bench.parseOps(ops), Blas1Bench.parseSizes(sizes),
                    threads == null ? BenchCommand.defaultThreads() : threads, backends, seconds, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        out.println("# f32, increment 1; GB/s of compulsory traffic (dot 8n bytes, axpy 12n, scal 8n); %bw of the copy bandwidth at the"
                + " same thread count; median calls over a " + seconds + " s time box, ours and OpenBLAS alternating at 1 thread, one after the other above;"
                + " checked on 1031 elements against the reference");
        List<Blas1Bench.Row> rows = Blas1Bench.run(cfg, out);
        if (json != null) {
            Blas1Bench.writeJson(json, rows);
            out.println("# wrote " + rows.size() + " rows to " + json);
        }
        out.flush();
        boolean wrong = rows.stream().anyMatch(r -> r.check().startsWith("WRONG"));
        return rows.isEmpty() || wrong ? 1 : 0;
    }
}
