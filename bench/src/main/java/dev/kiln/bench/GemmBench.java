package dev.kiln.bench;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The engine of {@code kiln bench gemm} and {@code kiln bench gemv}: f32, row-major, untransposed,
 * alpha = 1, beta = 0. Shapes are m x n x k (C is m x n, A m x k, B k x n); a GEMV is a GEMM with n = 1,
 * given as m x k. Each figure is the median of a time-boxed run ({@link Timing}) of the kernel alone, on
 * operands already resident on the backend's device (GEMV at 1 thread: calls alternating with the peer's).
 * Beside it: OpenBLAS with the same thread count ({@code cblas_sgemm} / {@code cblas_sgemv}), or for the CUDA
 * backend cuBLAS ({@link CublasPeer}), and for the CPU backend the share of the measured FMA peak
 * ({@link PeakBench}) at that thread count. Every result is checked once (Freivalds-style, in double:
 * C·x against A·(B·x), with C poisoned with NaN first) before it is timed.
 */
public final class GemmBench {
    private GemmBench() {}

    public enum Op {
        GEMM, GEMV;

        public String lower() { return name().toLowerCase(Locale.ROOT); }
    }

    /** One problem: C is m x n, the inner dimension is k. */
    public record Shape(int m, int n, int k) {
        public Shape {
            if (m < 1 || n < 1 || k < 1) throw new IllegalArgumentException("bench: shape extents must be >= 1, got m=" + m + " n=" + n + " k=" + k);
            if ((long) m * k > Integer.MAX_VALUE || (long) k * n > Integer.MAX_VALUE || (long) m * n > Integer.MAX_VALUE)
                throw new IllegalArgumentException("bench: shape m=" + m + " n=" + n + " k=" + k + " has a matrix over 2^31 elements");
        }

        /**
         * Parses a comma-separated list. GEMM: {@code N} (square) or {@code MxNxK}. GEMV: {@code N} (square)
         * or {@code MxK}.
         */
        public static List<Shape> parseList(Op op, String spec) {
            List<Shape> shapes = new ArrayList<>();
            for (String part : spec.split(",")) {
                String s = part.strip().toLowerCase(Locale.ROOT);
                if (s.isEmpty()) continue;
                String[] d = s.split("x");
                try {
                    int[] v = new int[d.length];
                    for (int i = 0; i < d.length; i++) v[i] = Integer.parseInt(d[i].strip());
                    if (d.length == 1) shapes.add(new Shape(v[0], op == Op.GEMV ? 1 : v[0], v[0]));
                    else if (op == Op.GEMM && d.length == 3) shapes.add(new Shape(v[0], v[1], v[2]));
                    else if (op == Op.GEMV && d.length == 2) shapes.add(new Shape(v[0], 1, v[1]));
                    else throw new NumberFormatException();
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("bench " + op.lower() + ": bad size '" + part.strip() + "' (use N or "
                            + (op == Op.GEMM ? "MxNxK" : "MxK") + ")");
                }
            }
            if (shapes.isEmpty()) throw new IllegalArgumentException("bench " + op.lower() + ": no sizes in '" + spec + "'");
            return shapes;
        }
    }

    /** Default GEMM sizes: squares, one tall-skinny (m=4096, n=64, k=4096) and two odd ones. */
    public static final String DEFAULT_GEMM_SIZES = "128,256,512,1024,2048,4096,4096x64x4096,1000,1023";
    public static final String DEFAULT_GEMV_SIZES = "256,1000,1024,4096,8192";

    /**
     * What to run. {@code backends} empty means every backend with an opened device; {@code budgetSeconds}
     * is the sampling time box per figure. A backend is skipped for a shape when its rate on the previous
     * shape predicts one call would take more than {@code maxCallSeconds}. Before the table, each backend
     * runs a small odd-sized problem for {@code warmupSeconds} so the first rows do not time the JIT (a time box cannot cut a call
     * short: an OpenCL CPU driver at 0.5 GFLOP/s would need minutes for one 4096 GEMM).
     */
    public record Config(Op op, List<Shape> shapes, List<Integer> threads, List<String> backends,
                         double budgetSeconds, double maxCallSeconds, double warmupSeconds, long seed) {
        public Config {
            shapes = List.copyOf(shapes);
            threads = List.copyOf(threads);
            backends = List.copyOf(backends);
            for (int t : threads) if (t < 1) throw new IllegalArgumentException("bench: threads must be >= 1, got " + t);
            if (threads.isEmpty()) throw new IllegalArgumentException("bench: no thread counts");
            if (!(budgetSeconds > 0)) throw new IllegalArgumentException("bench: time box must be > 0 s, got " + budgetSeconds);
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("bench: warm-up must be >= 0 s, got " + warmupSeconds);
            if (!(maxCallSeconds > 0)) throw new IllegalArgumentException("bench: call limit must be > 0 s, got " + maxCallSeconds);
        }
    }

    /** Runs every (shape, threads, backend) and prints the table as it goes; returns the rows. */
    public static List<BenchRow> run(Config cfg, PrintWriter out) {
        KernelClock.enableProfiling();
        Optional<OpenBlas> peer = OpenBlas.load();
        out.println("# " + cfg.op().lower() + " f32 row-major NN, "
                + (cfg.op() == Op.GEMV ? "shape m x k (y = A x, A m x k)" : "shape m x n x k (C m x n, A m x k, B k x n)")
                + ", seed " + cfg.seed() + "; time = median of a " + cfg.budgetSeconds() + " s time box");
        out.println("# peer: " + peer.map(p -> "OpenBLAS " + p.config() + ", kernel " + p.coreName() + " (" + p.location() + ")")
                .orElse("none: " + OpenBlas.absentReason()));
        peer.map(OpenBlas::weakKernelWarning).filter(w -> !w.isEmpty()).ifPresent(w -> out.println("# WARNING: " + w));
        Map<String, Device> devices = Backends.open(cfg.backends(), out);
        if (devices.isEmpty()) return List.of();
        // cuBLAS beside the CUDA backend, in the same run (fails soft with its one-line reason).
        Optional<CublasPeer> gpuPeer = Optional.empty();
        if (cfg.op() == Op.GEMM && devices.keySet().stream().anyMatch(b -> Backends.backendName(b).equals("cuda"))) {
            gpuPeer = CublasPeer.load();
            out.println("# gpu peer: " + gpuPeer.map(p -> "cuBLAS cublasSgemm_v2 (" + p.location() + ")")
                    .orElse("none: " + CublasPeer.absentReason()));
        }
        Map<String, Double> lastRate = new HashMap<>(); // GFLOP/s per backend, to predict the next call's time
        if (cfg.warmupSeconds() > 0) warmUp(cfg, devices, lastRate, out);
        Report.header(out);
        // Thread counts are process-wide settings: put them back for whatever runs after the table.
        int cpuThreadsBefore = Backends.cpuThreads(), blasThreadsBefore = peer.map(OpenBlas::threads).orElse(-1);
        try {
            return table(cfg, devices, peer, gpuPeer, lastRate, out);
        } finally {
            if (cpuThreadsBefore > 0) Backends.setCpuThreads(cpuThreadsBefore);
            if (blasThreadsBefore > 0) peer.get().setThreads(blasThreadsBefore);
        }
    }

    private static List<BenchRow> table(Config cfg, Map<String, Device> devices, Optional<OpenBlas> peer,
                                        Optional<CublasPeer> gpuPeer, Map<String, Double> lastRate, PrintWriter out) {
        Map<Integer, Double> peaks = new HashMap<>();
        List<BenchRow> rows = new ArrayList<>();
        for (Shape shape : cfg.shapes()) {
            GemmOperands host = GemmOperands.random(shape, cfg.seed());
            double cublasGflops = gpuPeer.map(p -> p.gflops(host, cfg.budgetSeconds(), out)).orElse(Double.NaN);
            for (int t : cfg.threads()) {
                String threadNote = devices.keySet().stream().anyMatch(b -> Backends.backendName(b).equals("cpu"))
                        ? Backends.setCpuThreads(t) : null;
                if (threadNote != null) out.println("# " + threadNote);
                double peerGflops = peer.map(p -> measurePeer(p, cfg, host, t, out)).orElse(Double.NaN);
                for (var e : devices.entrySet()) {
                    Double rate = lastRate.get(e.getKey());
                    double predicted = rate == null ? 0 : 2.0 * shape.m() * shape.n() * shape.k() / (rate * 1e9);
                    if (predicted > cfg.maxCallSeconds()) {
                        out.printf(Locale.ROOT, "# skip %s %dx%dx%d: one call would take ~%.0f s at its last rate of %.2f GFLOP/s"
                                + " (limit %.0f s)%n", e.getKey(), shape.m(), shape.n(), shape.k(), predicted, rate, cfg.maxCallSeconds());
                        continue;
                    }
                    boolean gpu = gpuPeer.isPresent() && Backends.backendName(e.getKey()).equals("cuda");
                    // GEMV at 1 thread: ours and OpenBLAS alternate call by call (see measure); otherwise one time box each
                    OpenBlas pairWith = cfg.op() == Op.GEMV && !gpu && t == 1 ? peer.orElse(null) : null;
                    BenchRow row = measure(cfg, e.getKey(), e.getValue(), shape, host, t, gpu ? cublasGflops : peerGflops,
                            gpu ? "cublas" : peer.isPresent() ? "openblas" : null, pairWith, peaks, out);
                    if (row != null) {
                        lastRate.put(e.getKey(), row.gflops());
                        rows.add(row);
                        Report.row(out, row);
                    }
                }
            }
        }
        return rows;
    }

    /** JIT warm-up: a 96 x 80 x 72 problem (n = 1 for GEMV), all edge cases of a blocked kernel, per backend. */
    private static void warmUp(Config cfg, Map<String, Device> devices, Map<String, Double> rates, PrintWriter out) {
        GemmOperands ops = GemmOperands.random(new Shape(96, cfg.op() == Op.GEMV ? 1 : 80, 72), cfg.seed());
        out.printf(Locale.ROOT, "# warm-up: %.1f s per backend on %dx%dx%d%n", cfg.warmupSeconds(),
                ops.shape().m(), ops.shape().n(), ops.shape().k());
        for (var e : devices.entrySet()) {
            try (GemmRunner runner = GemmRunner.kiln(e.getKey(), e.getValue(), ops)) {
                // The best call, not the last: one call slowed by a busy machine (or a driver compiling
                // device code) must not predict every later size as too slow to run.
                long start = System.nanoTime(), end = start + (long) (cfg.warmupSeconds() * 1e9), best = Long.MAX_VALUE;
                do {
                    long t0 = System.nanoTime();
                    runner.run();
                    best = Math.min(best, System.nanoTime() - t0);
                } while (System.nanoTime() < end);
                rates.put(e.getKey(), runner.flops() / Math.max(1, best)); // flop/ns = GFLOP/s
            } catch (Backends.Unavailable x) {
                out.println("# warm-up skipped for " + e.getKey() + ": " + x.getMessage());
            }
        }
    }

    /**
     * One row. With {@code pairWith} (GEMV at 1 thread), the kernel and OpenBLAS run alternating call by call
     * ({@link Timing#paired}), and the row's peer figure is that run's: a GEMV call takes milliseconds of DRAM traffic,
     * and with the two in separate time boxes one load swing on the shared 2-core VMs moved the 4096^2 ratio from 1.02
     * to 1.40 between two runs a minute apart (19:28-19:29 UTC, 2026-11-23, load 7-8.6). Each still reads its own copy
     * of the matrix. Not with more threads: OpenBLAS's workers spin after a call, on the core our second thread needs.
     */
    private static BenchRow measure(Config cfg, String backend, Device device, Shape s, GemmOperands host, int threads,
                                    double peerGflops, String peerName, OpenBlas pairWith, Map<Integer, Double> peaks,
                                    PrintWriter out) {
        GemmRunner runner;
        try {
            runner = GemmRunner.kiln(backend, device, host);
        } catch (Backends.Unavailable e) {
            out.println("# skip " + backend + " " + s.m() + "x" + s.n() + "x" + s.k() + ": " + e.getMessage());
            return null;
        }
        try (runner) {
            runner.run();
            String check = host.check(runner.result());
            long[] calls = {0};
            KernelClock before = KernelClock.read(device);
            double median;
            if (pairWith != null) {
                try (GemmRunner peer = GemmRunner.openblas(pairWith, host, true)) {
                    double[] both = Timing.paired(() -> { runner.run(); calls[0]++; }, peer::run, cfg.budgetSeconds());
                    median = both[0];
                    peerGflops = peer.flops() / both[1] * 1e-9;
                }
            } else {
                median = Timing.measure(() -> { runner.run(); calls[0]++; }, cfg.budgetSeconds()).median();
            }
            // Devices that time their kernels (OpenCL with queue profiling) show that time beside the wall time.
            double kernelMs = before == null ? Double.NaN : before.millisPerCall(KernelClock.read(device), calls[0]);
            String kernelNote = Double.isNaN(kernelMs) ? "" : String.format(Locale.ROOT, ", kernel %.3f ms mean", kernelMs);
            double gflops = runner.flops() / median * 1e-9;
            double pct = Double.NaN;
            if (device.kind() == DeviceKind.CPU && device.usesHostMemory())
                pct = 100 * gflops / peaks.computeIfAbsent(threads, t -> PeakBench.gflops(t, 0.05, 10));
            return new BenchRow(cfg.op().lower(), backend, s.m(), s.n(), s.k(), threads, median, gflops, pct,
                    peerName, peerGflops, check + " (" + runner.implementation() + kernelNote + ")");
        }
    }

    private static double measurePeer(OpenBlas blas, Config cfg, GemmOperands host, int threads, PrintWriter out) {
        blas.setThreads(threads);
        try (GemmRunner runner = GemmRunner.openblas(blas, host, cfg.op() == Op.GEMV)) {
            runner.run();
            String check = host.check(runner.result());
            if (!check.equals("ok")) out.println("# warning: OpenBLAS result " + check);
            Timing time = Timing.measure(runner::run, cfg.budgetSeconds());
            return runner.flops() / time.median() * 1e-9;
        }
    }
}
