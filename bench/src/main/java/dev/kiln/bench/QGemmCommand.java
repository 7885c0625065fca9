package dev.kiln.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code kiln bench qgemm}: options here, the measuring in {@link QGemmBench}. */
@Command(name = "qgemm", mixinStandardHelpOptions = true,
        description = {"Low-bit GEMM/GEMV (s8, u8, s4, b1) per backend beside that backend's SGEMM (an SGEMV for m = 1) of the same"
                + " shape, timed in alternating calls: ratio = GOP/s over GFLOP/s.",
                "Operands are resident on the backend's device (OpenCL and CUDA buffers uploaded once): a call is one kernel"
                + " execution plus a stream synchronise, no host<->device copies. Each result is checked once on 64 sampled"
                + " elements (check column); a backend that is absent gets one '# skip' line, a type it declines a row saying"
                + " 'unsupported' (not in the JSON)."})
final class QGemmCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--type", defaultValue = "s8,s4,b1", description = "s8, u8, s4, b1, comma-separated (default: ${DEFAULT-VALUE}).")
    String types;

    @Option(names = "--sizes", defaultValue = "1024,2048,1x4096x4096",
            description = "N (square) or MxNxK (C m x n, inner k; m = 1 is a GEMV), comma-separated (default: ${DEFAULT-VALUE}).")
    String sizes;

    @Mixin
    DeviceOptions device;

    @Option(names = "--group", defaultValue = "32", description = "s4 scale group along k (default: ${DEFAULT-VALUE}).")
    int group;

    @Option(names = "--json", description = "Also write the rows as a JSON array to this file (keys op, backend, type, m, n, k, threads,"
            + " gops, sgemm_gflops, ratio).")
    Path json;

    @Option(names = "--time", defaultValue = "0.5", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", defaultValue = "2", description = "JIT warm-up on small shapes before the table, seconds (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        QGemmBench.Config cfg;
        try {
            List<String> t = new ArrayList<>();
            for (String p : types.split(",")) if (!p.isBlank()) t.add(p.strip().toLowerCase(Locale.ROOT));
            cfg = new QGemmBench.Config(device.backendList(), t, QGemmBench.parseSizes(sizes), device.threadList(),
                    group, seconds, warmupSeconds, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        List<QGemmBench.Row> rows = QGemmBench.run(cfg, out);
        if (json != null) {
            QGemmBench.writeJson(json, rows);
            out.println("# wrote " + rows.size() + " rows to " + json);
        }
        out.flush();
        return rows.isEmpty() || rows.stream().anyMatch(r -> r.check().startsWith("WRONG")) ? 1 : 0;
    }
}
