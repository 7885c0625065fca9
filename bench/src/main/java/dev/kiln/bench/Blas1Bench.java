package dev.kiln.bench;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.desc.Blas1Op;
import dev.kiln.kernels.io.Json;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The engine of {@code kiln bench blas1}: sdot, saxpy and sscal (f32, increment 1) per size, thread count and
 * backend, beside OpenBLAS's {@code cblas_sdot / cblas_saxpy / cblas_sscal} at the same thread count. These
 * are memory-bound, so a row reads by GB/s of compulsory traffic (dot reads 2n floats, axpy reads 2n and writes
 * n, scal reads and writes n) and its share of the copy bandwidth measured in the same process at the same
 * thread count ({@link MemBench}); {@code ratio} = our GB/s / OpenBLAS's. At one thread ours and the peer run
 * in alternating calls ({@link Timing#paired}, median of each), so both see the same load on a shared machine.
 * With more threads each gets its own time box after the other ({@link Timing#measure}, median call): OpenBLAS's
 * workers spin for a while after each of its calls, and on a 2-core machine one of them then holds the core our
 * second thread needs (measured: alternated with cblas_sdot, our 2-thread sdot at 16 Mi ran at its 1-thread
 * speed). Each time box starts with a warm-up longer than that spin. Each case is
 * first checked against the reference on 1031 elements ({@link OpRunner#check}). Repeated calls keep the data
 * bounded: axpy adds 0.001 x per call, scal multiplies by -1 (not 1, which OpenBLAS skips).
 */
final class Blas1Bench {
    private Blas1Bench() {}

    static final String DEFAULT_OPS = "dot,axpy,scal";
    /** 64 Ki floats (256 KB a vector: inside L2) and 16 Mi (64 MB a vector, the 4096^2 matrix's size: main memory). */
    static final String DEFAULT_SIZES = "65536,16777216";
    private static final int CHECK_COUNT = 1031;
    private static final long BANDWIDTH_BYTES = 64L << 20;
    private static final float AXPY_ALPHA = 1e-3f, SCAL_ALPHA = -1f;

    record Config(List<Blas1Op> ops, List<Integer> sizes, List<Integer> threads, List<String> backends, double budgetSeconds, long seed) {
        Config {
            ops = List.copyOf(ops);
            sizes = List.copyOf(sizes);
            threads = List.copyOf(threads);
            backends = List.copyOf(backends);
            if (ops.isEmpty() || sizes.isEmpty() || threads.isEmpty()) throw new IllegalArgumentException("bench blas1: need an op, a size and a thread count");
            for (int t : threads) if (t < 1) throw new IllegalArgumentException("bench blas1: threads must be >= 1, got " + t);
            for (int n : sizes) if (n < 1) throw new IllegalArgumentException("bench blas1: sizes must be >= 1, got " + n);
            if (!(budgetSeconds > 0)) throw new IllegalArgumentException("bench blas1: time box must be > 0 s, got " + budgetSeconds);
        }
    }

    /** One line: {@code seconds} is our median call; peer figures are NaN without OpenBLAS (or on another device). */
    record Row(String op, String backend, int n, int threads, double seconds, double gbps, double pctBandwidth,
               double peerGbps, double ratio, String check) {}

    static List<Blas1Op> parseOps(String list) {
        List<Blas1Op> ops = new ArrayList<>();
        for (String s : list.split(",")) {
            if (s.isBlank()) continue;
            String name = s.strip().toLowerCase(Locale.ROOT).replaceFirst("^s(?=dot|axpy|scal)", "");
            try {
                ops.add(Blas1Op.valueOf(name.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("bench blas1: unknown op '" + s.strip() + "' (use dot, axpy, scal)");
            }
        }
        return ops;
    }

    static List<Integer> parseSizes(String list) {
        List<Integer> sizes = new ArrayList<>();
        for (String s : list.split(",")) {
            if (s.isBlank()) continue;
            try {
                sizes.add(Integer.parseInt(s.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bench blas1: bad size '" + s.strip() + "' (an element count from 1 to 2^31-1)");
            }
        }
        return sizes;
    }

    static Blas1Desc desc(Blas1Op op, int n) {
        return switch (op) {
            case DOT -> Blas1Desc.dot(DType.F32, n, 1, 1);
            case AXPY -> Blas1Desc.axpy(DType.F32, n, AXPY_ALPHA, 1, 1);
            case SCAL -> Blas1Desc.scal(DType.F32, n, SCAL_ALPHA, 1);
        };
    }

    static List<Row> run(Config cfg, PrintWriter out) {
        Map<String, Device> devices = Backends.open(cfg.backends(), out);
        if (devices.isEmpty()) return List.of();
        Optional<OpenBlas> peer = OpenBlas.load();
        out.println(peer.map(b -> "# peer: " + b + " (" + b.coreName() + ")").orElse("# peer: none: " + OpenBlas.absentReason()));
        int before = Backends.cpuThreads();
        try {
            return table(cfg, devices, peer, out);
        } finally {
            if (before > 0) Backends.setCpuThreads(before);
        }
    }

    private static List<Row> table(Config cfg, Map<String, Device> devices, Optional<OpenBlas> peer, PrintWriter out) {
        Map<Integer, Double> bandwidth = new HashMap<>();
        Map<String, String> checks = new HashMap<>();
        List<Row> rows = new ArrayList<>();
        header(out);
        for (Blas1Op op : cfg.ops())
            for (int n : cfg.sizes())
                for (int t : cfg.threads()) {
                    String note = Backends.setCpuThreads(t);
                    if (note != null) out.println("# " + note);
                    peer.ifPresent(b -> b.setThreads(t));
                    for (var e : devices.entrySet()) {
                        String backend = e.getKey();
                        Device device = e.getValue();
                        Blas1Desc d = desc(op, n);
                        String check = checks.computeIfAbsent(backend + " " + op,
                                k -> OpRunner.check(backend, device, desc(op, CHECK_COUNT), cfg.seed()));
                        boolean host = device.kind() == DeviceKind.CPU && device.usesHostMemory();
                        try (OpRunner ours = new OpRunner(backend, device, d, cfg.seed()); Arena arena = Arena.ofShared()) {
                            double s, peerSeconds = Double.NaN;
                            Runnable theirs = host && peer.isPresent() ? peerCall(peer.get(), op, n, arena, cfg.seed()) : null;
                            if (theirs != null && t == 1) { // no OpenBLAS workers: alternate, so both see the same load
                                double[] both = Timing.paired(ours::run, theirs, cfg.budgetSeconds());
                                s = both[0];
                                peerSeconds = both[1];
                            } else {
                                s = Timing.measure(ours::run, cfg.budgetSeconds()).median();
                                if (theirs != null) peerSeconds = Timing.measure(theirs, cfg.budgetSeconds()).median(); // see the class comment
                            }
                            double bytes = OpRunner.bytes(d), gbps = bytes / s * 1e-9, peerGbps = bytes / peerSeconds * 1e-9;
                            double pct = host ? 100 * gbps / bandwidth.computeIfAbsent(t, k -> MemBench.measure(k, BANDWIDTH_BYTES, 5).copyGBps())
                                              : Double.NaN;
                            Row row = new Row("s" + op.lower(), backend, n, host ? t : Backends.deviceThreads(device), s, gbps, pct,
                                    peerGbps, gbps / peerGbps, check + " (" + ours.implementation() + ")");
                            print(out, row);
                            rows.add(row);
                        } catch (Backends.Unavailable x) {
                            out.println("# skip " + backend + " s" + op.lower() + " n=" + n + ": " + x.getMessage());
                        }
                    }
                }
        return rows;
    }

    /** OpenBLAS's call on its own native operands of the same length, seeded like ours. */
    private static Runnable peerCall(OpenBlas blas, Blas1Op op, int n, Arena arena, long seed) {
        MemorySegment x = arena.allocate(ValueLayout.JAVA_FLOAT, n), y = arena.allocate(ValueLayout.JAVA_FLOAT, n);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n; i++) {
            x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            y.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        }
        float[] sink = new float[1];
        return switch (op) {
            case DOT -> () -> sink[0] += blas.sdot(n, x, 1, y, 1);
            case AXPY -> () -> blas.saxpy(n, AXPY_ALPHA, x, 1, y, 1);
            case SCAL -> () -> blas.sscal(n, SCAL_ALPHA, x, 1);
        };
    }

    private static final String ROW = "%-6s %-16s %10s %7s %10s %8s %6s %9s %6s  %s%n";

    static void header(PrintWriter out) {
        out.printf(Locale.ROOT, ROW, "op", "backend", "n", "threads", "time(us)", "GB/s", "%bw", "peer GB/s", "ratio", "check");
        out.flush();
    }

    static void print(PrintWriter out, Row r) {
        out.printf(Locale.ROOT, ROW, r.op(), r.backend(), r.n(), r.threads(), fixed(r.seconds() * 1e6, 1), fixed(r.gbps(), 1),
                fixed(r.pctBandwidth(), 0), fixed(r.peerGbps(), 1), fixed(r.ratio(), 2), r.check());
        out.flush();
    }

    private static String fixed(double v, int digits) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + digits + "f", v) : "-";
    }

    /** The rows as a JSON array with the keys op, backend, n, threads, seconds, gbps, pct_bandwidth, peer_gbps, ratio (null when missing). */
    static String json(List<Row> rows) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(i == 0 ? "\n  {" : ",\n  {")
                    .append("\"op\": ").append(Json.quote(r.op()))
                    .append(", \"backend\": ").append(Json.quote(r.backend()))
                    .append(", \"n\": ").append(r.n())
                    .append(", \"threads\": ").append(r.threads())
                    .append(", \"seconds\": ").append(num(r.seconds()))
                    .append(", \"gbps\": ").append(num(r.gbps()))
                    .append(", \"pct_bandwidth\": ").append(num(r.pctBandwidth()))
                    .append(", \"peer_gbps\": ").append(num(r.peerGbps()))
                    .append(", \"ratio\": ").append(num(r.ratio()))
                    .append('}');
        }
        return sb.append(rows.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    static void writeJson(Path file, List<Row> rows) throws IOException { Report.writeFile(file, json(rows)); }

    private static String num(double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null"; }
}
