package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.io.Json;
import dev.kiln.kernels.sparse.BsrMatrix;
import dev.kiln.kernels.sparse.CsrMatrix;
import dev.kiln.kernels.sparse.TwoFourMatrix;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code kiln bench spmm}: sparse (m x k) times dense (k x n) in CSR, BSR and 2:4 on each requested backend, each
 * row beside that backend's own dense SGEMM of the same shape, the two timed in alternating calls
 * ({@link Timing#paired}) at the same thread count, with {@code ratio = dense_seconds / seconds} (above 1: the
 * sparse kernel wins). Operands are resident on the backend's device (host memory for the CPU backend, device
 * buffers for OpenCL and CUDA), uploaded once; a call is one plan execution plus a stream synchronise, so the
 * figures are kernel time without host-device copies. Device and kernel come from dispatch's discovery
 * ({@link Backends}). The sparse matrix has uniformly random kept positions (BSR: random kept blocks; 2:4: the
 * two largest of each group of four, so its sparsity is always 0.5). Every sparse result is checked once
 * (C poisoned with NaN first) against the product of the densified matrix, Freivalds-style in double
 * ({@link GemmOperands#check}). The CPU backend runs at each {@code --threads} count; another backend once, with
 * its own threads (the threads column: an OpenCL CPU driver's compute units, 0 for a GPU).
 */
final class SpmmBench {
    private SpmmBench() {}

    /** Run settings: backends (name or name/impl); formats among csr, bsr, 2:4; sparsities in [0, 1); sizes m x k sparse, k x n dense. */
    record Config(List<String> backends, List<String> formats, List<Double> sparsities, List<Integer> threads, int m, int k, int n,
                  int blockRows, int blockCols, double budgetSeconds, double warmupSeconds, long seed) {
        Config {
            backends = List.copyOf(backends);
            formats = List.copyOf(formats);
            sparsities = List.copyOf(sparsities);
            threads = List.copyOf(threads);
            if (backends.isEmpty()) throw new IllegalArgumentException("bench spmm: no backends (use e.g. cpu,opencl,cuda)");
            for (String f : formats)
                if (!f.equals("csr") && !f.equals("bsr") && !f.equals("2:4"))
                    throw new IllegalArgumentException("bench spmm: bad format '" + f + "' (use csr, bsr, 2:4)");
            if (formats.isEmpty()) throw new IllegalArgumentException("bench spmm: no formats");
            for (double s : sparsities)
                if (!(s >= 0 && s < 1)) throw new IllegalArgumentException("bench spmm: sparsity must be in [0, 1), got " + s);
            if (threads.isEmpty()) throw new IllegalArgumentException("bench spmm: no thread counts");
            for (int t : threads) if (t < 1) throw new IllegalArgumentException("bench spmm: threads must be >= 1, got " + t);
            if (m < 1 || k < 1 || n < 1) throw new IllegalArgumentException("bench spmm: sizes must be positive, got " + m + "x" + k + "x" + n);
            if (formats.contains("2:4") && k % 4 != 0) throw new IllegalArgumentException("bench spmm: 2:4 needs k divisible by 4, got " + k);
            if (formats.contains("bsr") && (blockRows < 1 || blockCols < 1 || m % blockRows != 0 || k % blockCols != 0))
                throw new IllegalArgumentException("bench spmm: block " + blockRows + "x" + blockCols + " must divide " + m + "x" + k);
            if (!(budgetSeconds > 0)) throw new IllegalArgumentException("bench spmm: time box must be > 0 s, got " + budgetSeconds);
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("bench spmm: warm-up must be >= 0 s, got " + warmupSeconds);
        }
    }

    /** One measured table row; {@code check} says how the result compared with the densified product. */
    record Row(String op, String backend, String format, double sparsity, int threads, double seconds, double denseSeconds,
               String check) {
        double ratio() { return denseSeconds / seconds; }
    }

    private static final String LINE = "%-5s %-8s %-9s %8s %7s %11s %11s %7s  %s%n";

    /**
     * Measures every backend in turn and prints the table as it goes; returns the measured rows. A backend that
     * is absent gets one {@code # skip} line and no rows; a case it declines gets a row saying so (table only).
     */
    static List<Row> run(Config cfg, PrintWriter out) {
        int m = cfg.m(), k = cfg.k(), n = cfg.n();
        out.printf(Locale.ROOT, "# spmm f32: sparse %dx%d times dense %dx%d, bsr blocks %dx%d; dense = the same backend's SGEMM of the same"
                + " shape; ratio = dense/sparse; operands resident on the device, time = median of alternating calls (execute +"
                + " synchronise, no copies) over 2 x %s s%n", m, k, k, n, cfg.blockRows(), cfg.blockCols(), cfg.budgetSeconds());
        Map<String, Device> devices = Backends.open(cfg.backends(), out);
        List<Row> rows = new ArrayList<>();
        if (devices.isEmpty()) return rows;
        SplittableRandom rnd = new SplittableRandom(cfg.seed());
        float[] b = random(rnd, (long) k * n);
        List<Case> cases = cases(cfg, rnd);
        int before = Backends.cpuThreads();
        try {
            out.printf(Locale.ROOT, LINE, "op", "backend", "format", "sparsity", "threads", "time(ms)", "dense(ms)", "ratio", "check");
            for (var e : devices.entrySet()) measureBackend(cfg, e.getKey(), e.getValue(), b, cases, rows, out);
            if (rows.isEmpty()) out.println("# nothing measured: the requested backends declined every case");
        } finally {
            if (before > 0) Backends.setCpuThreads(before);
        }
        return rows;
    }

    private static void measureBackend(Config cfg, String backend, Device device, float[] b, List<Case> cases, List<Row> rows,
                                       PrintWriter out) {
        int m = cfg.m(), k = cfg.k(), n = cfg.n();
        GemmDesc gemm = GemmDesc.of(m, n, k);
        boolean cpu = Backends.isCpuBackend(backend);
        List<Integer> threads = cpu ? cfg.threads() : List.of(Backends.deviceThreads(device));
        Plan gemmPlan;
        try {
            gemmPlan = Backends.plan(device, Backends.backendName(backend), gemm); // the baseline: the device's best SGEMM
        } catch (Backends.Unavailable x) {
            out.println("# skip " + backend + ": no dense baseline: " + x.getMessage());
            return;
        }
        try (gemmPlan; DeviceBuffer bBuf = upload(device, b); DeviceBuffer cBuf = device.allocate(DType.F32, (long) m * n);
             DeviceBuffer dense = device.allocate(DType.F32, (long) m * n)) {
            boolean warmed = cfg.warmupSeconds() == 0;
            for (Case c : cases) {
                Plan plan;
                try {
                    plan = Backends.plan(device, backend, c.desc());
                } catch (Backends.Unavailable x) {
                    out.printf(Locale.ROOT, LINE, "spmm", backend, c.format(), String.format(Locale.ROOT, "%.2f", c.sparsity()), "-", "-", "-", "-",
                            "unsupported: " + x.getMessage());
                    continue;
                }
                List<DeviceBuffer> owned = new ArrayList<>();
                try (plan; DeviceBuffer aBuf = upload(device, c.densified())) {
                    Args args = c.args(device, bBuf, cBuf, owned), gemmArgs = Args.of(Arg.A, aBuf, Arg.B, bBuf, Arg.C, dense);
                    Runnable sparse = () -> execute(device, plan, args), denseCall = () -> execute(device, gemmPlan, gemmArgs);
                    String check = null;
                    for (int t : threads) {
                        if (cpu) {
                            String note = Backends.setCpuThreads(t);
                            if (note != null) out.println("# " + note);
                        }
                        if (!warmed) { // the GEMM once per backend (JIT, device programs); every format's kernel below
                            Timing.measure(denseCall, cfg.warmupSeconds());
                            warmed = true;
                        }
                        if (check == null) {
                            if (cfg.warmupSeconds() > 0) Timing.measure(sparse, cfg.warmupSeconds());
                            check = check(sparse, cBuf, c.densified(), b, cfg) + " (" + plan.implementation() + ")";
                        }
                        double[] times = Timing.paired(denseCall, sparse, cfg.budgetSeconds());
                        Row row = new Row("spmm", backend, c.format(), c.sparsity(), t, times[1], times[0], check);
                        out.printf(Locale.ROOT, LINE, row.op(), row.backend(), row.format(), String.format(Locale.ROOT, "%.2f", row.sparsity()), t,
                                String.format(Locale.ROOT, "%.3f", row.seconds() * 1e3), String.format(Locale.ROOT, "%.3f", row.denseSeconds() * 1e3),
                                String.format(Locale.ROOT, "%.2f", row.ratio()), row.check());
                        out.flush();
                        rows.add(row);
                    }
                } finally {
                    for (DeviceBuffer o : owned) o.close();
                }
            }
        }
    }

    private static void execute(Device device, Plan plan, Args args) {
        Stream s = device.defaultStream();
        plan.execute(s, args);
        s.synchronize();
    }

    /**
     * Runs the sparse kernel once into C poisoned with NaN and checks C against the densified A times B:
     * C·x against A·(B·x) in double, per row within 2(k+2)·2^-24·(|A|·|B|·|x|), which any summation order meets.
     */
    private static String check(Runnable sparse, DeviceBuffer c, float[] densified, float[] b, Config cfg) {
        int m = cfg.m(), n = cfg.n();
        float[] got = new float[m * n];
        java.util.Arrays.fill(got, Float.NaN);
        c.copyFrom(got);
        sparse.run();
        c.copyTo(got);
        return new GemmOperands(new GemmBench.Shape(m, n, cfg.k()), densified, b, cfg.seed()).check(got);
    }

    /** One sparse matrix to time: its descriptor, the dense copy for GEMM and the check, and its operands. */
    private record Case(String format, double sparsity, OpDesc desc, float[] densified, Object matrix) {
        Args args(Device device, DeviceBuffer b, DeviceBuffer c, List<DeviceBuffer> owned) {
            Args a = Args.of(Arg.B, b, Arg.C, c);
            switch (matrix) {
                case CsrMatrix s -> {
                    a.put(Arg.ROW_PTR, own(owned, upload(device, s.rowPtr()))).put(Arg.COL_IDX, own(owned, upload(device, s.colIdx())));
                    a.put(Arg.VALUES, own(owned, upload(device, s.values())));
                }
                case BsrMatrix s -> {
                    a.put(Arg.ROW_PTR, own(owned, upload(device, s.rowPtr()))).put(Arg.COL_IDX, own(owned, upload(device, s.colIdx())));
                    a.put(Arg.VALUES, own(owned, upload(device, s.values())));
                }
                case TwoFourMatrix s -> {
                    a.put(Arg.VALUES, own(owned, upload(device, s.values())));
                    byte[] meta = s.meta();
                    DeviceBuffer mb = own(owned, device.allocate(DType.U8, meta.length));
                    mb.copyFrom(meta);
                    a.put(Arg.META, mb);
                }
                default -> throw new IllegalStateException("unknown matrix " + matrix);
            }
            return a;
        }
    }

    private static DeviceBuffer own(List<DeviceBuffer> owned, DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private static List<Case> cases(Config cfg, SplittableRandom rnd) {
        int m = cfg.m(), k = cfg.k();
        List<Case> cases = new ArrayList<>();
        for (String f : cfg.formats()) {
            if (f.equals("2:4")) {
                TwoFourMatrix t = TwoFourMatrix.fromDense(random(rnd, (long) m * k), m, k);
                cases.add(new Case(f, 0.5, t.spmmDesc(cfg.n()), t.toDense(), t));
                continue;
            }
            for (double s : cfg.sparsities()) {
                float[] a = random(rnd, (long) m * k);
                if (f.equals("csr")) {
                    boolean[] keep = new boolean[a.length];
                    for (int i = 0; i < keep.length; i++) keep[i] = rnd.nextDouble() >= s;
                    CsrMatrix c = CsrMatrix.fromDense(a, m, k, keep);
                    cases.add(new Case(f, s, c.spmmDesc(cfg.n()), c.toDense(), c));
                } else {
                    int br = cfg.blockRows(), bc = cfg.blockCols();
                    boolean[] keep = new boolean[a.length];
                    for (int bi = 0; bi < m / br; bi++)
                        for (int bj = 0; bj < k / bc; bj++)
                            if (rnd.nextDouble() >= s)
                                for (int i = 0; i < br; i++)
                                    java.util.Arrays.fill(keep, (bi * br + i) * k + bj * bc, (bi * br + i) * k + (bj + 1) * bc, true);
                    BsrMatrix c = BsrMatrix.fromDense(a, m, k, br, bc, keep);
                    cases.add(new Case(f, s, c.spmmDesc(cfg.n()), c.toDense(), c));
                }
            }
        }
        return cases;
    }

    private static float[] random(SplittableRandom rnd, long count) {
        float[] a = new float[Math.toIntExact(count)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static DeviceBuffer upload(Device device, float[] data) {
        DeviceBuffer buf = device.allocate(DType.F32, data.length);
        buf.copyFrom(data);
        return buf;
    }

    private static DeviceBuffer upload(Device device, int[] data) {
        DeviceBuffer buf = device.allocate(DType.S32, data.length);
        buf.copyFrom(data);
        return buf;
    }

    /** A JSON array, one object per row, exactly the keys op, backend, format, sparsity, threads, seconds, dense_seconds, ratio. */
    static String json(List<Row> rows) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(i == 0 ? "\n  {" : ",\n  {")
                    .append("\"op\": ").append(Json.quote(r.op()))
                    .append(", \"backend\": ").append(Json.quote(r.backend()))
                    .append(", \"format\": ").append(Json.quote(r.format()))
                    .append(", \"sparsity\": ").append(String.format(Locale.ROOT, "%.4f", r.sparsity()))
                    .append(", \"threads\": ").append(r.threads())
                    .append(", \"seconds\": ").append(String.format(Locale.ROOT, "%.6g", r.seconds()))
                    .append(", \"dense_seconds\": ").append(String.format(Locale.ROOT, "%.6g", r.denseSeconds()))
                    .append(", \"ratio\": ").append(String.format(Locale.ROOT, "%.4f", r.ratio()))
                    .append('}');
        }
        return sb.append(rows.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    static void writeJson(Path file, List<Row> rows) throws IOException { Report.writeFile(file, json(rows)); }
}
