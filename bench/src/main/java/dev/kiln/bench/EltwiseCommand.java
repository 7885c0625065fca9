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

/** {@code kiln bench elementwise}: options here, cases in {@link EltwiseBench}, the measuring in {@link OpBench}. */
@Command(name = "elementwise", mixinStandardHelpOptions = true,
        description = "Element-wise ops per backend and thread count: GB/s of compulsory traffic and share of the measured bandwidth.")
final class EltwiseCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--ops", defaultValue = EltwiseBench.DEFAULT_OPS,
            description = "Unary or binary op names, or add-bias, add-channel, mul-column, sum-axis0, max-axis0, argmax, softmax,"
                    + " log-softmax, softmax-channel; comma-separated (default: ${DEFAULT-VALUE}).")
    String ops;

    @Option(names = "--sizes", defaultValue = EltwiseBench.DEFAULT_SIZES, description = "Element counts, comma-separated (default: ${DEFAULT-VALUE}).")
    String sizes;

    @Option(names = "--direction", defaultValue = EltwiseBench.DEFAULT_DIRECTIONS, description = "fwd, bwd (default: ${DEFAULT-VALUE}).")
    String directions;

    @Option(names = "--threads", split = ",", description = "Thread counts for the CPU backend (default: 1 and all processors).")
    List<Integer> threads;

    @Option(names = "--backend", split = ",", description = "Kiln backends, e.g. cpu,opencl or cpu/vector-unary (default: every available one).")
    List<String> backends = new ArrayList<>();

    @Option(names = "--json", description = "Also write the rows as a JSON array to this file (keys op, backend, shape,"
            + " direction, threads, seconds, gbps, pct_bandwidth).")
    Path json;

    @Option(names = "--time", defaultValue = "0.5", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", defaultValue = "1", description = "JIT warm-up before the table, seconds (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        OpBench.Config cfg;
        try {
            cfg = new OpBench.Config(EltwiseBench.cases(ops, sizes, directions),
                    threads == null ? BenchCommand.defaultThreads() : threads, backends, seconds, warmupSeconds, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        out.println("# element-wise f32; GB/s of compulsory traffic (inputs read once, outputs written once); %bw of the copy"
                + " bandwidth at the same thread count; checked on 1031 elements (or a small shape of the same layout); time = median of a " + seconds + " s time box");
        return OpBenchCommand.finish(out, OpBench.run(cfg, out), json, true);
    }
}
