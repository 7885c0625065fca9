package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.spi.Plan;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Chooses the GEMM variant for a descriptor on one device. A shape class (dtype, transposes, and each of
 * m, n, k rounded up to a power of 4 between 16 and 4096) is looked up in memory, then in the tuning cache
 * beside the device's program binaries (so it is keyed by platform, device, device and driver version like
 * them, and by the hash of the GEMM source in the file name); with autotuning on ({@code KILN_AUTOTUNE=1} or
 * {@code -Dkiln.autotune=true}) a class not found is tuned: every candidate is timed by queue events on this
 * device on the descriptor's own shape (each extent capped at 2048, batch 1) and the fastest is stored. Without
 * autotuning a class not found gets {@link GemmVariant#defaultFor}. An entry that does not parse, or names a
 * variant that is not a candidate, is ignored with a message on stderr.
 */
final class GemmTuner {
    /** Times one variant on the device, in seconds; throws when the variant cannot run. A seam for tests. */
    interface Timer {
        double seconds(GemmVariant variant);
    }

    /** The variant for a class and where it came from: {@code default}, {@code tuning cache} or {@code tuned now}. */
    record Choice(GemmVariant variant, String source) {}

    private static final int TUNE_EXTENT = 2048;

    private final Path dir;
    private final String sourceHash;
    private final GemmVariant fallback;
    private final Consumer<String> warnings;
    private final Map<String, Choice> chosen = new ConcurrentHashMap<>();

    /**
     * @param dir        the device's cache folder (null: no cache, tuning results live in memory only)
     * @param source     the GEMM program source, whose hash keys the entries
     * @param fallback   the variant without tuning
     * @param warnings   where "ignoring tuning entry ..." messages go
     */
    GemmTuner(Path dir, String source, GemmVariant fallback, Consumer<String> warnings) {
        this.dir = dir;
        this.sourceHash = ClPrograms.hash(source).substring(0, 16);
        this.fallback = fallback;
        this.warnings = warnings;
    }

    /** {@code KILN_AUTOTUNE=1|true|yes}, or {@code -Dkiln.autotune=...}, which wins. */
    static boolean enabled() {
        String v = System.getProperty("kiln.autotune");
        if (v == null || v.isBlank()) v = System.getenv("KILN_AUTOTUNE");
        return v != null && List.of("1", "true", "yes", "on").contains(v.strip().toLowerCase(Locale.ROOT));
    }

    /** E.g. {@code f32-NN-m1024-n1024-k1024}. */
    static String shapeClass(GemmDesc d) {
        return d.dtype().lower() + "-" + d.transA() + d.transB() + "-m" + bucket(d.m()) + "-n" + bucket(d.n()) + "-k" + bucket(d.k());
    }

    private static int bucket(int extent) {
        int b = 16;
        while (b < extent && b < 4096) b *= 4;
        return b;
    }

    /**
     * The variant for {@code d}: remembered, cached on disk, tuned with {@code timer} when {@code tune}
     * (timer may be null otherwise), or the default.
     */
    Choice choose(GemmDesc d, boolean tune, Timer timer) {
        String cls = shapeClass(d);
        Choice known = chosen.get(cls);
        if (known != null && (!tune || !known.source().equals("default"))) return known;
        GemmVariant cached = read(cls);
        Choice c;
        if (cached != null) c = new Choice(cached, "tuning cache");
        else if (tune) {
            GemmVariant best = fastest(GemmVariant.CANDIDATES, timer, d.dtype(), warnings);
            c = best == null ? new Choice(fallback, "default") : new Choice(best, "tuned now");
            if (best != null) write(cls, best);
        } else c = new Choice(fallback, "default");
        chosen.put(cls, c);
        return c;
    }

    /**
     * The candidate with the least time; one that throws is skipped with a note. Null when none ran.
     * Ties go to the earlier candidate.
     */
    static GemmVariant fastest(List<GemmVariant> candidates, Timer timer, DType dtype, Consumer<String> notes) {
        GemmVariant best = null;
        double bestSeconds = Double.POSITIVE_INFINITY;
        for (GemmVariant v : candidates) {
            double s;
            try {
                s = timer.seconds(v);
            } catch (RuntimeException e) {
                notes.accept("opencl gemm tuning: variant " + v.name(dtype) + " failed, skipped: " + e.getMessage());
                continue;
            }
            if (ClTrace.enabled()) ClTrace.line(String.format(Locale.ROOT, "opencl gemm tuning: %s %.3f ms", v.name(dtype), s * 1e3));
            if (s < bestSeconds) {
                bestSeconds = s;
                best = v;
            }
        }
        return best;
    }

    /** The cache file of a shape class (null without a cache). */
    Path entry(String shapeClass) { return dir == null ? null : dir.resolve("gemm-tune-" + sourceHash + "-" + shapeClass + ".txt"); }

    /** The stored variant of a class, or null when there is none or it is unusable (then with a message). */
    GemmVariant read(String shapeClass) {
        Path file = entry(shapeClass);
        if (file == null || !Files.isRegularFile(file)) return null;
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.startsWith("variant=")) continue;
                GemmVariant v = GemmVariant.decode(line.substring("variant=".length()));
                if (!GemmVariant.CANDIDATES.contains(v))
                    throw new IllegalArgumentException("variant " + v.encode() + " is not one of the candidates");
                return v;
            }
            throw new IllegalArgumentException("no variant= line");
        } catch (IOException | RuntimeException e) {
            warnings.accept("opencl: ignoring tuning entry " + file + ": " + e.getMessage());
            return null;
        }
    }

    /** Stores a class's winner atomically (temp file, then move); an I/O failure only loses the entry. */
    void write(String shapeClass, GemmVariant v) {
        Path file = entry(shapeClass);
        if (file == null) return;
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "gemm-tune", ".tmp");
            Files.writeString(tmp, "# kiln opencl gemm tuning, class " + shapeClass + "\nvariant=" + v.encode() + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException e) {
            warnings.accept("opencl: could not store tuning entry " + file + ": " + e);
            try {
                if (tmp != null) Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // Best effort: a stray temp file is harmless.
            }
        }
    }

    /**
     * Times variants' whole plans (a pack included) on {@code device} with queue events, on {@code d}'s shape
     * (each extent capped at 2048, tight leading dimensions, batch 1, no epilogue): one untimed run (drivers
     * such as POCL compile for the launch size then), then up to three timed, stopping once a second is spent;
     * the best counts.
     * Operands and the profiling queue are released by {@link Bench#close()}.
     */
    static final class Bench implements Timer, AutoCloseable {
        private final OpenClDevice device;
        private final GemmDesc shape;
        private OpenClStream stream;
        private OpenClBuffer a, b, c;

        Bench(OpenClDevice device, GemmDesc d) {
            this.device = device;
            this.shape = GemmDesc.of(d.dtype(), d.transA(), d.transB(), Math.min(d.m(), TUNE_EXTENT), Math.min(d.n(), TUNE_EXTENT),
                    Math.min(d.k(), TUNE_EXTENT), 1, 0);
        }

        @Override public double seconds(GemmVariant v) {
            if (stream == null) open();
            // The variant's whole plan, so a packing variant pays for its pack (the stream sums both kernels' events).
            try (Plan plan = new OpenClGemm(device, v).plan(shape)) {
                Args args = Args.of(Arg.A, a, Arg.B, b, Arg.C, c);
                double best = Double.POSITIVE_INFINITY, spent = 0;
                for (int run = 0; run < 4 && spent < 1.0; run++) {
                    plan.execute(stream, args);
                    stream.synchronize();
                    double s = stream.lastKernelNanos() * 1e-9;
                    spent += s;
                    if (run > 0) best = Math.min(best, s);
                }
                return best == Double.POSITIVE_INFINITY ? spent : best;
            }
        }

        private void open() {
            stream = device.newStream(true);
            long ca = (long) shape.rowsA() * shape.colsA(), cb = (long) shape.rowsB() * shape.colsB(), cc = (long) shape.m() * shape.n();
            a = device.allocate(shape.dtype(), Math.max(1, ca));
            b = device.allocate(shape.dtype(), Math.max(1, cb));
            c = device.allocate(shape.dtype(), Math.max(1, cc));
            // Zeros: timing only, and no denormals or NaNs to slow anything down.
            for (OpenClBuffer buf : List.of(a, b, c)) buf.fillZero();
        }

        /** Releases every buffer and the queue, each attempted; the first failure is rethrown. */
        @Override public void close() {
            RuntimeException first = null;
            for (AutoCloseable r : new AutoCloseable[] {a, b, c, stream}) {
                if (r == null) continue;
                try {
                    r.close();
                } catch (Exception e) {
                    if (first == null) first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                }
            }
            if (first != null) throw first;
        }
    }
}
