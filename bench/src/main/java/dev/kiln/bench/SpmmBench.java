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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code kiln bench spmm}: sparse (m x k) times dense (k x n) on the CPU backend in CSR, BSR and 2:4, each
 * row beside the dense SGEMM of the same shape timed in the same run at the same thread count, with
 * {@code ratio = dense_seconds / seconds} (above 1: the sparse kernel wins). The sparse matrix has uniformly
 * random kept positions (BSR: random kept blocks; 2:4: the two largest of each group of four, so its
 * sparsity is always 0.5). Every sparse result is checked once against the dense GEMM of the densified matrix.
 */
final class SpmmBench {
    private SpmmBench() {}

    /** Run settings: formats among csr, bsr, 2:4; sparsities in [0, 1); sizes m x k sparse, k x n dense. */
    record Config(List<String> formats, List<Double> sparsities, List<Integer> threads, int m, int k, int n,
                  int blockRows, int blockCols, double budgetSeconds, double warmupSeconds, long seed) {
        Config {
            formats = List.copyOf(formats);
            sparsities = List.copyOf(sparsities);
            threads = List.copyOf(threads);
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

    /** One table row; {@code check} says how the result compared with the dense GEMM. */
    record Row(String op, String backend, String format, double sparsity, int threads, double seconds, double denseSeconds,
               String check) {
        double ratio() { return denseSeconds / seconds; }
    }

    private static final String LINE = "%-5s %-8s %-9s %8s %7s %11s %11s %7s  %s%n";

    static List<Row> run(Config cfg, PrintWriter out) throws Backends.Unavailable {
        Device device = Backends.device("cpu");
        int before = Backends.cpuThreads();
        List<Row> rows = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(cfg.seed());
        int m = cfg.m(), k = cfg.k(), n = cfg.n();
        float[] b = random(rnd, (long) k * n);
        out.printf(Locale.ROOT, "# spmm f32: sparse %dx%d times dense %dx%d on cpu (%s), bsr blocks %dx%d; dense = our SGEMM of the same shape,"
                + " timed beside each row; ratio = dense/sparse; time = median of a %s s box%n", m, k, k, n, device.name(),
                cfg.blockRows(), cfg.blockCols(), cfg.budgetSeconds());
        try (DeviceBuffer bBuf = upload(device, b); DeviceBuffer cBuf = device.allocate(DType.F32, (long) m * n);
             DeviceBuffer dense = device.allocate(DType.F32, (long) m * n)) {
            List<Case> cases = cases(cfg, rnd);
            boolean warmed = cfg.warmupSeconds() == 0;
            out.printf(Locale.ROOT, LINE, "op", "backend", "format", "sparsity", "threads", "time(ms)", "dense(ms)", "ratio", "check");
            for (Case c : cases) {
                String check = null;
                try (DeviceBuffer aBuf = upload(device, c.densified())) {
                    GemmDesc gemm = GemmDesc.of(m, n, k);
                    Args gemmArgs = Args.of(Arg.A, aBuf, Arg.B, bBuf, Arg.C, dense);
                    Plan gemmPlan = Backends.plan(device, "cpu", gemm);
                    for (int t : cfg.threads()) {
                        String note = Backends.setCpuThreads(t);
                        if (note != null) out.println("# " + note);
                        List<DeviceBuffer> owned = new ArrayList<>();
                        try {
                            Args args = c.args(device, bBuf, cBuf, owned);
                            Plan plan = Backends.plan(device, "cpu", c.desc());
                            Runnable sparse = () -> execute(device, plan, args), denseCall = () -> execute(device, gemmPlan, gemmArgs);
                            if (!warmed) { // the GEMM once; every format's kernel below, so no row times the JIT
                                Timing.measure(denseCall, cfg.warmupSeconds());
                                warmed = true;
                            }
                            if (check == null && cfg.warmupSeconds() > 0) Timing.measure(sparse, cfg.warmupSeconds());
                            if (check == null) check = check(sparse, denseCall, cBuf, dense, m, n) + " (" + plan.implementation() + ")";
                            // dense timed again beside every row: on a shared machine the load drifts between rows
                            double d = Timing.measure(denseCall, cfg.budgetSeconds()).median();
                            double s = Timing.measure(sparse, cfg.budgetSeconds()).median();
                            Row row = new Row("spmm", "cpu", c.format(), c.sparsity(), t, s, d, check);
                            out.printf(Locale.ROOT, LINE, row.op(), row.backend(), row.format(), String.format(Locale.ROOT, "%.2f", row.sparsity()), t,
                                    String.format(Locale.ROOT, "%.3f", s * 1e3), String.format(Locale.ROOT, "%.3f", row.denseSeconds() * 1e3),
                                    String.format(Locale.ROOT, "%.2f", row.ratio()), row.check());
                            out.flush();
                            rows.add(row);
                        } finally {
                            for (DeviceBuffer o : owned) o.close();
                        }
                    }
                }
            }
        } finally {
            if (before > 0) Backends.setCpuThreads(before);
        }
        return rows;
    }

    private static void execute(Device device, Plan plan, Args args) {
        Stream s = device.defaultStream();
        plan.execute(s, args);
        s.synchronize();
    }

    /** Runs both once and compares: max |sparse - dense| over max |dense|, allowed 1e-4 (sums of k terms in other orders). */
    private static String check(Runnable sparse, Runnable dense, DeviceBuffer c, DeviceBuffer expected, int m, int n) {
        sparse.run();
        dense.run();
        float[] got = new float[m * n], want = new float[m * n];
        c.copyTo(got);
        expected.copyTo(want);
        double maxDiff = 0, scale = 0;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return "WRONG: NaN at " + i;
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        double rel = scale == 0 ? maxDiff : maxDiff / scale;
        return rel <= 1e-4 ? "ok" : String.format(Locale.ROOT, "WRONG: max rel diff %.2e", rel);
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

    static void writeJson(Path file, List<Row> rows) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, json(rows));
    }
}
