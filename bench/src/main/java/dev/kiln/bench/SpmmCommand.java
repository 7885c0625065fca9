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

/** {@code kiln bench spmm}: options here, the measuring in {@link SpmmBench}. */
@Command(name = "spmm", mixinStandardHelpOptions = true,
        description = {"Sparse x dense (CSR, BSR, 2:4) per backend beside that backend's dense SGEMM of the same shape, timed in"
                + " alternating calls: ratio = dense/sparse time.",
                "Operands are resident on the backend's device (OpenCL and CUDA buffers uploaded once): a call is one kernel"
                + " execution plus a stream synchronise, no host<->device copies. Each result is checked once against the"
                + " densified product (check column); a backend that is absent gets one '# skip' line, a case it declines"
                + " a row saying 'unsupported' (not in the JSON)."})
final class SpmmCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--format", defaultValue = "csr,bsr,2:4", description = "csr, bsr, 2:4, comma-separated (default: ${DEFAULT-VALUE}).")
    String formats;

    @Option(names = "--sparsity", defaultValue = "0.5,0.7,0.8,0.9,0.95,0.99",
            description = "Fractions of zeros for csr and bsr, comma-separated; 2:4 is always 0.5 (default: ${DEFAULT-VALUE}).")
    String sparsities;

    @Mixin
    DeviceOptions device;

    @Option(names = "--size", defaultValue = "4096x4096x256", paramLabel = "MxKxN",
            description = "Sparse M x K times dense K x N (default: ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--block", defaultValue = "16x16", paramLabel = "RxC", description = "BSR block (default: ${DEFAULT-VALUE}).")
    String block;

    @Option(names = "--json", description = "Also write the rows as a JSON array to this file (keys op, backend, format, sparsity,"
            + " threads, seconds, dense_seconds, ratio).")
    Path json;

    @Option(names = "--time", defaultValue = "0.5", description = "Sampling time box per figure, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--warmup", defaultValue = "2", description = "JIT warm-up before the table, seconds (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed for the operands (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        SpmmBench.Config cfg;
        try {
            int[] mkn = ints(size, 3, "--size", "MxKxN");
            int[] rc = ints(block, 2, "--block", "RxC");
            List<String> f = new ArrayList<>();
            for (String p : formats.split(",")) if (!p.isBlank()) f.add(p.strip().toLowerCase(Locale.ROOT));
            List<Double> s = new ArrayList<>();
            for (String p : sparsities.split(","))
                if (!p.isBlank()) {
                    try {
                        s.add(Double.parseDouble(p.strip()));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("bench spmm: bad sparsity '" + p.strip() + "'");
                    }
                }
            cfg = new SpmmBench.Config(device.backendList(), f, s, device.threadList(), mkn[0], mkn[1], mkn[2],
                    rc[0], rc[1], seconds, warmupSeconds, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        List<SpmmBench.Row> rows = SpmmBench.run(cfg, out);
        if (json != null) {
            SpmmBench.writeJson(json, rows);
            out.println("# wrote " + rows.size() + " rows to " + json);
        }
        out.flush();
        return rows.isEmpty() || rows.stream().anyMatch(r -> r.check().startsWith("WRONG")) ? 1 : 0;
    }

    private static int[] ints(String text, int count, String option, String form) {
        String[] p = text.strip().toLowerCase(Locale.ROOT).split("x");
        int[] v = new int[p.length];
        try {
            if (p.length != count) throw new NumberFormatException();
            for (int i = 0; i < p.length; i++) v[i] = Integer.parseInt(p[i].strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bench spmm: bad " + option + " '" + text + "' (use " + form + ")");
        }
        return v;
    }
}
