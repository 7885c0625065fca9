package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine of the tables without a native peer ({@link ConvBench}, {@link EltwiseBench}): per case,
 * thread count and backend, the kernel is checked once against the reference on the case's small twin,
 * warmed up (the whole warm-up before the first row, a quarter of it before each later one), then timed
 * ({@link Timing}, median of a time box) on resident operands ({@link OpRunner}). CPU rows get
 * the share of the FMA peak ({@link PeakBench}) and of the copy bandwidth ({@link MemBench}) measured at
 * the same thread count in the same process.
 */
final class OpBench {
    private OpBench() {}

    /**
     * One row to measure: {@code desc} is timed; {@code check} (same op, small enough for the reference) is
     * verified; {@code op}, {@code shape} and {@code direction} label the row.
     */
    record Case(String op, String shape, String direction, OpDesc desc, OpDesc check) {}

    /** Run settings; {@code backends} empty means every backend with an opened device. */
    record Config(List<Case> cases, List<Integer> threads, List<String> backends, double budgetSeconds,
                  double warmupSeconds, long seed) {
        Config {
            cases = List.copyOf(cases);
            threads = List.copyOf(threads);
            backends = List.copyOf(backends);
            if (cases.isEmpty()) throw new IllegalArgumentException("bench: nothing to run");
            if (threads.isEmpty()) throw new IllegalArgumentException("bench: no thread counts");
            for (int t : threads) if (t < 1) throw new IllegalArgumentException("bench: threads must be >= 1, got " + t);
            if (!(budgetSeconds > 0)) throw new IllegalArgumentException("bench: time box must be > 0 s, got " + budgetSeconds);
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("bench: warm-up must be >= 0 s, got " + warmupSeconds);
        }
    }

    /** Bandwidth buffer: far beyond any L3 of the machines in question, small enough to allocate quickly. */
    private static final long BANDWIDTH_BYTES = 64L << 20;

    static List<OpRow> run(Config cfg, PrintWriter out) {
        Map<String, Device> devices = Backends.open(cfg.backends(), out);
        if (devices.isEmpty()) return List.of();
        int cpuThreadsBefore = Backends.cpuThreads();
        try {
            return table(cfg, devices, out);
        } finally {
            if (cpuThreadsBefore > 0) Backends.setCpuThreads(cpuThreadsBefore);
        }
    }

    /**
     * The FMA peak at {@code threads}, the better of two measurements: on a machine busy with other work a
     * first measurement can run before the JIT has compiled the FMA loop and read far too low.
     */
    private static double peak(int threads) {
        return Math.max(PeakBench.gflops(threads, 0.05, 10), PeakBench.gflops(threads, 0.05, 10));
    }

    /**
     * The copy bandwidth at {@code threads}, the best of three measurements (5 copies each) after one that is
     * thrown away: a single measurement, taken once per process, moved 35-47 GB/s between runs on a 2-core VM
     * shared with other work (the first one in a process often read lowest), and the %bw column moved with it
     * more than the kernel times did.
     */
    private static double copyBandwidth(int threads) {
        MemBench.measure(threads, BANDWIDTH_BYTES, 1);
        double best = 0;
        for (int i = 0; i < 3; i++) best = Math.max(best, MemBench.measure(threads, BANDWIDTH_BYTES, 5).copyGBps());
        return best;
    }

    private static List<OpRow> table(Config cfg, Map<String, Device> devices, PrintWriter out) {
        Map<Integer, Double> peaks = new HashMap<>(), bandwidths = new HashMap<>();
        Map<String, String> checks = new HashMap<>(); // one reference check per (backend, case), not per thread count
        boolean warmed = false;
        List<OpRow> rows = new ArrayList<>();
        boolean headed = false;
        for (Case c : cfg.cases()) {
            for (int t : cfg.threads()) {
                boolean cpu = devices.keySet().stream().anyMatch(b -> Backends.backendName(b).equals("cpu"));
                String note = cpu ? Backends.setCpuThreads(t) : null;
                if (note != null) out.println("# " + note);
                for (var e : devices.entrySet()) {
                    String backend = e.getKey();
                    Device device = e.getValue();
                    String check = checks.computeIfAbsent(backend + " " + c.desc(), k -> OpRunner.check(backend, device, c.check(), cfg.seed()));
                    try (OpRunner runner = new OpRunner(backend, device, c.desc(), cfg.seed())) {
                        // The whole warm-up before the first row, a quarter of it before every later one: each case
                        // may take a path not compiled yet, and on a busy machine a time box alone can close
                        // while that path still runs in the interpreter (seen as a median 1000x too slow).
                        if (cfg.warmupSeconds() > 0) Timing.measure(runner::run, warmed ? cfg.warmupSeconds() / 4 : cfg.warmupSeconds());
                        warmed = true;
                        if (!headed) {
                            OpRow.header(out);
                            headed = true;
                        }
                        Timing time = Timing.measure(runner::run, cfg.budgetSeconds());
                        double s = time.median(), gflops = c.desc().flops() / s * 1e-9, gbps = OpRunner.bytes(c.desc()) / s * 1e-9;
                        double pctPeak = Double.NaN, pctBw = Double.NaN;
                        if (device.kind() == DeviceKind.CPU && device.usesHostMemory()) {
                            pctPeak = 100 * gflops / peaks.computeIfAbsent(t, OpBench::peak);
                            pctBw = 100 * gbps / bandwidths.computeIfAbsent(t, OpBench::copyBandwidth);
                        }
                        OpRow row = new OpRow(c.op(), backend, c.shape(), c.direction(), t, s, gflops, pctPeak, gbps, pctBw,
                                check + " (" + runner.implementation() + ")");
                        row.print(out);
                        rows.add(row);
                    } catch (Backends.Unavailable x) {
                        out.println("# skip " + backend + " " + c.op() + " " + c.shape() + " " + c.direction() + ": " + x.getMessage());
                    }
                }
            }
        }
        return rows;
    }
}
