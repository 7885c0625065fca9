package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.io.Json;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code kiln bench qgemm}: low-bit GEMM ({@link QGemmDesc}: s8 x s8, u8 x s8, grouped s4 weights times f32,
 * binary) on each requested backend, each row beside that backend's own SGEMM of the same shape timed in the same
 * run at the same thread count (for m = 1 the same problem as an SGEMV: y = B a with B n x k). Rates count one
 * multiply-add as 2 operations: {@code gops = 2 m n k / time}, {@code ratio = gops / sgemm_gflops}. Integer outputs
 * are s32; each result is checked once (C poisoned first) on 64 sampled elements against dot products computed here
 * (exactly for the integer types, within 1e-4 relative for s4). The two are timed in alternating calls
 * ({@link Timing#paired}), so that both see the same load. Operands are resident on the backend's device, uploaded
 * once; a call is one plan execution plus a stream synchronise (kernel time, no host-device copies). The CPU
 * backend runs at each {@code --threads} count; another backend once, with its own threads (the threads column: an
 * OpenCL CPU driver's compute units, 0 for a GPU).
 */
final class QGemmBench {
    private QGemmBench() {}

    static final List<String> TYPES = List.of("s8", "u8", "s4", "b1");

    record Config(List<String> backends, List<String> types, List<int[]> shapes, List<Integer> threads, int group, double budgetSeconds,
                  double warmupSeconds, long seed) {
        Config {
            backends = List.copyOf(backends);
            types = List.copyOf(types);
            if (backends.isEmpty()) throw new IllegalArgumentException("bench qgemm: no backends (use e.g. cpu,opencl,cuda)");
            shapes = List.copyOf(shapes);
            threads = List.copyOf(threads);
            for (String t : types) if (!TYPES.contains(t)) throw new IllegalArgumentException("bench qgemm: bad type '" + t + "' (use " + String.join(", ", TYPES) + ")");
            if (types.isEmpty()) throw new IllegalArgumentException("bench qgemm: no types");
            if (threads.isEmpty()) throw new IllegalArgumentException("bench qgemm: no thread counts");
            for (int t : threads) if (t < 1) throw new IllegalArgumentException("bench qgemm: threads must be >= 1, got " + t);
            if (group < 2 || group % 2 != 0) throw new IllegalArgumentException("bench qgemm: the s4 group must be even and >= 2, got " + group);
            for (int[] s : shapes) {
                if (s[0] < 1 || s[1] < 1 || s[2] < 1) throw new IllegalArgumentException("bench qgemm: sizes must be positive, got " + s[0] + "x" + s[1] + "x" + s[2]);
                if (types.contains("s4") && s[2] % group != 0)
                    throw new IllegalArgumentException("bench qgemm: s4 needs k divisible by the group " + group + ", got k=" + s[2]);
            }
            if (!(budgetSeconds > 0)) throw new IllegalArgumentException("bench qgemm: time box must be > 0 s, got " + budgetSeconds);
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("bench qgemm: warm-up must be >= 0 s, got " + warmupSeconds);
        }
    }

    /** One row; {@code op} is qgemm, or qgemv for m = 1. */
    record Row(String op, String backend, String type, int m, int n, int k, int threads, double gops, double sgemmGflops, String check) {
        double ratio() { return gops / sgemmGflops; }
    }

    /** N (square) or MxNxK, comma-separated. */
    static List<int[]> parseSizes(String spec) {
        List<int[]> out = new ArrayList<>();
        for (String part : spec.split(",")) {
            String p = part.strip().toLowerCase(Locale.ROOT);
            if (p.isEmpty()) continue;
            String[] d = p.split("x");
            try {
                if (d.length == 1) { int v = Integer.parseInt(d[0]); out.add(new int[] {v, v, v}); }
                else if (d.length == 3) out.add(new int[] {Integer.parseInt(d[0]), Integer.parseInt(d[1]), Integer.parseInt(d[2])});
                else throw new NumberFormatException();
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bench qgemm: bad size '" + part.strip() + "' (use N or MxNxK)");
            }
        }
        if (out.isEmpty()) throw new IllegalArgumentException("bench qgemm: no sizes in '" + spec + "'");
        return out;
    }

    private static final String LINE = "%-6s %-8s %-5s %-16s %7s %10s %12s %7s  %s%n";

    /**
     * Measures every backend in turn and prints the table as it goes; returns the measured rows. A backend that
     * is absent gets one {@code # skip} line and no rows; a type it declines gets a row saying so (table only).
     */
    static List<Row> run(Config cfg, PrintWriter out) {
        out.printf(Locale.ROOT, "# qgemm: C m x n = A m x k times B^T (B n x k); s8/u8/b1 exact into s32, s4 = f32 A times s4 B with one scale"
                + " per %d; sgemm = the same backend's SGEMM of the same shape (an SGEMV for m = 1) in the same run; one multiply-add"
                + " = 2 ops; operands resident on the device, time = median of alternating calls (execute + synchronise, no copies)"
                + " over 2 x %s s%n", cfg.group(), cfg.budgetSeconds());
        Map<String, Device> devices = Backends.open(cfg.backends(), out);
        List<Row> rows = new ArrayList<>();
        if (devices.isEmpty()) return rows;
        int before = Backends.cpuThreads();
        try {
            if (cfg.warmupSeconds() > 0)
                out.printf(Locale.ROOT, "# warm-up: %.1f s per backend on 64x48x%d and 1x96x%d per type%n", cfg.warmupSeconds(), 4 * cfg.group(), 8 * cfg.group());
            out.printf(Locale.ROOT, LINE, "op", "backend", "type", "shape", "threads", "GOP/s", "sgemm GF/s", "ratio", "check");
            for (var e : devices.entrySet()) {
                String backend = e.getKey();
                Device device = e.getValue();
                List<Integer> threads = Backends.isCpuBackend(backend) ? cfg.threads() : List.of(Backends.deviceThreads(device));
                if (cfg.warmupSeconds() > 0) {
                    // Warm-up on small GEMM and GEMV shapes of every type and thread count (one thread takes other paths), which
                    // also builds a device's programs: a large first call would otherwise be timed in the interpreter (a
                    // 4096 x 4096 SGEMV takes ~0.3 s there, 100 times its compiled time)
                    Config small = new Config(cfg.backends(), cfg.types(), List.of(new int[] {64, 48, 4 * cfg.group()}, new int[] {1, 96, 8 * cfg.group()}),
                            cfg.threads(), cfg.group(), cfg.warmupSeconds() / (4 * cfg.types().size() * threads.size()), 0, cfg.seed());
                    measureAll(small, backend, device, threads, new PrintWriter(java.io.Writer.nullWriter()), new ArrayList<>());
                }
                measureAll(cfg, backend, device, threads, out, rows);
            }
            if (rows.isEmpty()) out.println("# nothing measured: the requested backends declined every case");
        } finally {
            if (before > 0) Backends.setCpuThreads(before);
        }
        return rows;
    }

    private static void measureAll(Config cfg, String backend, Device device, List<Integer> threads, PrintWriter out, List<Row> rows) {
        boolean cpu = Backends.isCpuBackend(backend);
        for (int[] s : cfg.shapes()) {
            int m = s[0], n = s[1], k = s[2];
            String shape = m + "x" + n + "x" + k;
            SplittableRandom rnd = new SplittableRandom(cfg.seed());
            GemmDesc sgemm = m == 1 ? GemmDesc.of(n, 1, k) : GemmDesc.of(DType.F32, Transpose.N, Transpose.T, m, n, k, 1, 0);
            Plan sPlan;
            try {
                sPlan = Backends.plan(device, Backends.backendName(backend), sgemm); // the baseline: the device's best SGEMM
            } catch (Backends.Unavailable x) {
                out.println("# skip " + backend + " " + shape + ": no SGEMM baseline: " + x.getMessage());
                continue;
            }
            try (sPlan; DeviceBuffer fa = floats(device, rnd, (long) m * k); DeviceBuffer fb = floats(device, rnd, (long) n * k);
                 DeviceBuffer fc = device.allocate(DType.F32, (long) m * n)) {
                Args sArgs = m == 1 ? Args.of(Arg.A, fb, Arg.B, fa, Arg.C, fc) : Args.of(Arg.A, fa, Arg.B, fb, Arg.C, fc);
                for (String type : cfg.types()) {
                    String op = m == 1 ? "qgemv" : "qgemm";
                    QGemmDesc q = desc(type, m, n, k, cfg.group());
                    Plan qPlan;
                    try {
                        qPlan = Backends.plan(device, backend, q);
                    } catch (Backends.Unavailable x) {
                        out.printf(Locale.ROOT, LINE, op, backend, type, shape, "-", "-", "-", "-", "unsupported: " + x.getMessage());
                        continue;
                    }
                    List<DeviceBuffer> owned = new ArrayList<>();
                    try (qPlan) {
                        Args qArgs = operands(device, q, fa, rnd, owned);
                        Runnable qCall = () -> execute(device, qPlan, qArgs), sCall = () -> execute(device, sPlan, sArgs);
                        String check = null;
                        for (int t : threads) {
                            if (cpu) {
                                String note = Backends.setCpuThreads(t);
                                if (note != null) out.println("# " + note);
                            }
                            if (check == null) {
                                poison(qArgs.get(Arg.C));
                                qCall.run();
                                check = check(q, qArgs, rnd) + " (" + qPlan.implementation() + ")";
                            }
                            double[] times = Timing.paired(sCall, qCall, cfg.budgetSeconds());
                            double sTime = times[0], qTime = times[1];
                            double flops = 2.0 * m * n * k;
                            Row row = new Row(op, backend, type, m, n, k, t, flops / qTime * 1e-9, flops / sTime * 1e-9, check);
                            out.printf(Locale.ROOT, LINE, row.op(), row.backend(), row.type(), shape, t,
                                    fmt(row.gops(), 1), fmt(row.sgemmGflops(), 1), fmt(row.ratio(), 2), row.check());
                            out.flush();
                            rows.add(row);
                        }
                    } finally {
                        for (DeviceBuffer b : owned) b.close();
                    }
                }
            }
        }
    }

    /** Fills an output with all-ones bytes (NaN for f32, -1 for s32) so that a kernel that writes nothing fails its check. */
    private static void poison(DeviceBuffer c) {
        byte[] ones = new byte[Math.toIntExact(c.byteSize())];
        java.util.Arrays.fill(ones, (byte) -1);
        c.copyFrom(MemorySegment.ofArray(ones));
    }

    static QGemmDesc desc(String type, int m, int n, int k, int group) {
        return switch (type) {
            case "s8" -> QGemmDesc.s8(m, n, k, DType.S32);
            case "u8" -> QGemmDesc.u8s8(m, n, k, DType.S32);
            case "s4" -> QGemmDesc.s4(m, n, k, group);
            default -> QGemmDesc.binary(m, n, k, DType.S32);
        };
    }

    private static void execute(Device device, Plan plan, Args args) {
        Stream s = device.defaultStream();
        plan.execute(s, args);
        s.synchronize();
    }

    private static String fmt(double v, int digits) { return String.format(Locale.ROOT, "%." + digits + "f", v); }

    private static DeviceBuffer floats(Device device, SplittableRandom rnd, long count) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextDouble(-1, 1);
        DeviceBuffer b = device.allocate(DType.F32, count);
        b.copyFrom(v);
        return b;
    }

    /** Random operands for {@code q} (s4 reuses the f32 A of the SGEMM); C allocated. */
    private static Args operands(Device device, QGemmDesc q, DeviceBuffer floatA, SplittableRandom rnd, List<DeviceBuffer> owned) {
        Args args = Args.of();
        for (var spec : q.args()) {
            if (spec.arg() == Arg.A && spec.dtype() == DType.F32) { args.put(Arg.A, floatA); continue; }
            DeviceBuffer b = device.allocate(spec.dtype(), spec.count());
            owned.add(b);
            if (spec.access().reads()) {
                byte[] raw = new byte[Math.toIntExact(spec.dtype().bytes(spec.count()))];
                if (spec.dtype() == DType.F32) {
                    MemorySegment seg = MemorySegment.ofArray(raw);
                    for (long i = 0; i < spec.count(); i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) rnd.nextDouble(0.01, 0.1));
                } else {
                    rnd.nextBytes(raw);
                }
                b.copyFrom(MemorySegment.ofArray(raw));
            }
            args.put(spec.arg(), b);
        }
        return args;
    }

    /** 64 sampled elements of C against dot products computed here. */
    private static String check(QGemmDesc q, Args args, SplittableRandom rnd) {
        MemorySegment a = host(args.get(Arg.A), q.spec(Arg.A)), b = host(args.get(Arg.B), q.spec(Arg.B)), c = host(args.get(Arg.C), q.spec(Arg.C));
        MemorySegment sc = q.type() == QGemmDesc.QuantType.S4 ? host(args.get(Arg.SCALES), q.spec(Arg.SCALES)) : null;
        int k = q.k();
        for (int t = 0; t < 64; t++) {
            int i = rnd.nextInt(q.m()), j = rnd.nextInt(q.n());
            long at = (long) i * q.n() + j;
            switch (q.type()) {
                case S8S8, U8S8 -> {
                    long acc = 0;
                    for (int p = 0; p < k; p++) {
                        int av = a.get(ValueLayout.JAVA_BYTE, (long) i * k + p);
                        if (q.type() == QGemmDesc.QuantType.U8S8) av &= 0xFF;
                        acc += (long) av * b.get(ValueLayout.JAVA_BYTE, (long) j * k + p);
                    }
                    if (c.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, at) != acc) return "WRONG at " + i + "," + j;
                }
                case B1 -> {
                    long acc = 0, rowBits = 8L * q.rowBytes();
                    for (int p = 0; p < k; p++) acc += bit(a, i * rowBits + p) == bit(b, j * rowBits + p) ? 1 : -1;
                    if (c.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, at) != acc) return "WRONG at " + i + "," + j;
                }
                default -> {
                    double acc = 0, mag = 0;
                    int groups = k / q.groupSize();
                    for (int p = 0; p < k; p++) {
                        long e = (long) j * k + p;
                        int byt = b.get(ValueLayout.JAVA_BYTE, e >> 1), nib = (e & 1) == 0 ? byt & 0xF : (byt >> 4) & 0xF;
                        double term = a.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) i * k + p) * (nib >= 8 ? nib - 16 : nib)
                                * sc.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) j * groups + p / q.groupSize());
                        acc += term;
                        mag += Math.abs(term);
                    }
                    if (Math.abs(c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at) - acc) > 1e-4 * mag + 1e-6) return "WRONG at " + i + "," + j;
                }
            }
        }
        return "ok";
    }

    private static int bit(MemorySegment s, long i) { return (s.get(ValueLayout.JAVA_BYTE, i >> 3) >> (i & 7)) & 1; }

    private static MemorySegment host(DeviceBuffer b, dev.kiln.kernels.desc.ArgSpec spec) {
        if (b.isHost()) return b.hostSegment();
        MemorySegment copy = MemorySegment.ofArray(new byte[Math.toIntExact(spec.dtype().bytes(b.count()))]);
        b.copyTo(copy);
        return copy;
    }

    /** A JSON array with exactly the keys op, backend, type, m, n, k, threads, gops, sgemm_gflops, ratio. */
    static String json(List<Row> rows) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(i == 0 ? "\n  {" : ",\n  {")
                    .append("\"op\": ").append(Json.quote(r.op()))
                    .append(", \"backend\": ").append(Json.quote(r.backend()))
                    .append(", \"type\": ").append(Json.quote(r.type()))
                    .append(", \"m\": ").append(r.m()).append(", \"n\": ").append(r.n()).append(", \"k\": ").append(r.k())
                    .append(", \"threads\": ").append(r.threads())
                    .append(", \"gops\": ").append(num(r.gops()))
                    .append(", \"sgemm_gflops\": ").append(num(r.sgemmGflops()))
                    .append(", \"ratio\": ").append(num(r.ratio()))
                    .append('}');
        }
        return sb.append(rows.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    static void writeJson(Path file, List<Row> rows) throws IOException { Report.writeFile(file, json(rows)); }

    /** Full precision (tiny test shapes run at a small fraction of a GOP/s). */
    private static String num(double v) { return Double.isFinite(v) ? Double.toString(v) : "null"; }
}
