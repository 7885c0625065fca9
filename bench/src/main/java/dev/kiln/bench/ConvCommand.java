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

/** {@code kiln bench conv}: options here, cases in {@link ConvBench}, the measuring in {@link OpBench}. */
@Command(name = "conv", mixinStandardHelpOptions = true,
        description = "2D convolution per backend, direction and thread count: GFLOP/s and share of the FMA peak"
                + " (depthwise: GB/s and share of the bandwidth).")
final class ConvCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--shape", arity = "1..*", paramLabel = "N,C,H,W,K,R,S,stride,pad,groups",
            description = "Shapes (default: the CPU issue's four at N=32: 32,64,56,56,64,3,3,1,1,1 32,3,224,224,64,7,7,2,3,1"
                    + " 32,256,28,28,64,1,1,1,0,1 32,256,28,28,256,3,3,1,1,256).")
    List<String> shapes;

    @Option(names = "--direction", defaultValue = ConvBench.DEFAULT_DIRECTIONS,
            description = "fwd, bwd-data, bwd-weights, comma-separated (default: ${DEFAULT-VALUE}).")
    String directions;

    @Option(names = "--threads", split = ",", description = "Thread counts for the CPU backend (default: 1 and all processors).")
    List<Integer> threads;

    @Option(names = "--backend", split = ",", description = "Kiln backends, e.g. cpu,opencl or cpu/vector-conv (default: every available one).")
    List<String> backends = new ArrayList<>();

    @Option(names = "--json", description = "Also write the rows as a JSON array to this file (keys op, backend, shape,"
            + " direction, threads, seconds, gflops, pct_peak).")
    Path json;

    @Option(names = "--time", defaultValue = "1", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", defaultValue = "2", description = "JIT warm-up before the table, seconds (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        OpBench.Config cfg;
        try {
            cfg = new OpBench.Config(ConvBench.cases(shapes == null ? ConvBench.DEFAULT_SHAPES : shapes, ConvBench.directions(directions)),
                    threads == null ? BenchCommand.defaultThreads() : threads, backends, seconds, warmupSeconds, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        out.println("# conv f32 NCHW, shape N,C,H,W,K,R,S,stride,pad,groups, no bias; checked at N=1 against the reference;"
                + " time = median of a " + seconds + " s time box; GB/s of compulsory traffic (inputs read once, outputs written once)");
        return OpBenchCommand.finish(out, OpBench.run(cfg, out), json, false);
    }
}
