package dev.kiln.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The native peer: OpenBLAS's CBLAS entry points (sgemm, dgemm, sgemv; sdot, saxpy, sscal) called through FFM (no JNI, no extra dependency).
 * Everything is row-major ({@code CblasRowMajor}); matrices follow the Kiln GEMM convention, op(A) is
 * m x k, op(B) k x n, C m x n. Operands must be native segments (heap segments cannot cross a downcall
 * without {@code critical}, which would block GC for the whole GEMM). OpenBLAS's thread count is a
 * process-wide setting: {@link #setThreads} changes it for every caller.
 *
 * <p>The library is found by soname first (the dynamic linker's search path and {@code ldconfig}),
 * then at known Debian/Ubuntu paths, or at {@code -Dkiln.openblas=PATH} / {@code KILN_OPENBLAS}.
 * {@link #load()} is empty when none works; {@link #absentReason()} says why, in one line.
 *
 * <p>The peer must run its best kernel, or every ratio flatters us. OpenBLAS takes its kernel family from
 * {@code OPENBLAS_CORETYPE} when that is set, and the VMs this project runs on set it to Haswell (AVX2) even
 * on AVX-512 CPUs: on Zen 5 that runs at about 120 GFLOP/s per core where the SkylakeX kernel reaches
 * 220-235 (measured 2026-11-23). The variable is read when the library loads, from the environment the
 * process started with, so {@code ./kiln bench} and {@code ./kiln jmh} set SkylakeX there on AVX-512 CPUs,
 * and {@link #weakKernelWarning()} says when the peer still runs an AVX2 kernel on an AVX-512 machine.
 * Restricted FFM methods are the point of this class; the JVM needs {@code --enable-native-access=ALL-UNNAMED}.
 */
@SuppressWarnings("restricted")
public final class OpenBlas {
    static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    private static final String SONAME = "libopenblas.so.0";
    private static final List<String> KNOWN_PATHS = List.of(
            "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib64/libopenblas.so.0",
            "/usr/lib/libopenblas.so.0",
            "/usr/local/lib/libopenblas.so.0",
            "/opt/homebrew/opt/openblas/lib/libopenblas.dylib");

    private final String location;
    private final MethodHandle sgemm, dgemm, sgemv, setThreads;
    private final MethodHandle sdot, saxpy, sscal;
    private final MethodHandle getThreads, getConfig, getCoreName; // optional: null when the build lacks them

    private OpenBlas(String location, SymbolLookup lib) {
        this.location = location;
        Linker linker = Linker.nativeLinker();
        ValueLayout I = ValueLayout.JAVA_INT, F = ValueLayout.JAVA_FLOAT, D = ValueLayout.JAVA_DOUBLE;
        ValueLayout P = ValueLayout.ADDRESS;
        // blasint is a 32-bit int in the distribution builds (not the INTERFACE64 ones); enums are ints.
        sgemm = handle(linker, lib, "cblas_sgemm", FunctionDescriptor.ofVoid(I, I, I, I, I, I, F, P, I, P, I, F, P, I));
        dgemm = handle(linker, lib, "cblas_dgemm", FunctionDescriptor.ofVoid(I, I, I, I, I, I, D, P, I, P, I, D, P, I));
        sgemv = handle(linker, lib, "cblas_sgemv", FunctionDescriptor.ofVoid(I, I, I, I, F, P, I, P, I, F, P, I));
        setThreads = handle(linker, lib, "openblas_set_num_threads", FunctionDescriptor.ofVoid(I));
        sdot = handle(linker, lib, "cblas_sdot", FunctionDescriptor.of(F, I, P, I, P, I));
        saxpy = handle(linker, lib, "cblas_saxpy", FunctionDescriptor.ofVoid(I, F, P, I, P, I));
        sscal = handle(linker, lib, "cblas_sscal", FunctionDescriptor.ofVoid(I, F, P, I));
        getThreads = lib.find("openblas_get_num_threads")
                .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(I))).orElse(null);
        getConfig = lib.find("openblas_get_config")
                .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(P))).orElse(null);
        getCoreName = lib.find("openblas_get_corename")
                .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(P))).orElse(null);
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " not found"));
        return linker.downcallHandle(sym, fd);
    }

    private record Loaded(OpenBlas blas, String reason) {}

    private static final class Holder {
        static final Loaded LOADED = find();
    }

    /** The peer, loaded once per process; empty with {@link #absentReason()} when no library works. */
    public static Optional<OpenBlas> load() { return Optional.ofNullable(Holder.LOADED.blas()); }

    /** Why {@link #load()} is empty (one line), or the empty string when it is not. */
    public static String absentReason() { return Holder.LOADED.reason(); }

    private static Loaded find() {
        List<String> tried = new ArrayList<>();
        String override = System.getProperty("kiln.openblas", System.getenv("KILN_OPENBLAS"));
        List<String> candidates = new ArrayList<>();
        if (override != null && !override.isBlank()) candidates.add(override);
        candidates.add(SONAME);
        candidates.addAll(KNOWN_PATHS);
        for (String c : candidates) {
            boolean path = c.contains("/");
            if (path && !Files.isRegularFile(Path.of(c))) continue;
            try {
                // The global arena: the library stays mapped for the life of the process, as the handles need.
                SymbolLookup lib = path ? SymbolLookup.libraryLookup(Path.of(c), Arena.global())
                        : SymbolLookup.libraryLookup(c, Arena.global());
                return new Loaded(new OpenBlas(c, lib), "");
            } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
                tried.add(c + " (" + oneLine(e) + ")");
            } catch (IllegalCallerException e) {
                return new Loaded(null, "native access is disabled: run with --enable-native-access=ALL-UNNAMED ("
                        + oneLine(e) + ")");
            }
        }
        return new Loaded(null, "OpenBLAS not found (install libopenblas0-pthread or set KILN_OPENBLAS); tried "
                + (tried.isEmpty() ? SONAME + " and " + KNOWN_PATHS.size() + " known paths" : String.join(", ", tried)));
    }

    /**
     * A one-line warning when OpenBLAS runs an AVX2-era kernel on a CPU with AVX-512 (ratios against it
     * would flatter us), or the empty string.
     */
    public String weakKernelWarning() {
        String core = coreName();
        boolean avx512 = cpuFlags().containsAll(List.of("avx512f", "avx512bw", "avx512dq", "avx512vl"));
        if (!avx512 || core.equals("unknown") || core.toLowerCase(java.util.Locale.ROOT).matches(".*(skylakex|cooperlake|sapphirerapids|zen5).*"))
            return "";
        return "OpenBLAS runs its " + core + " kernel on this AVX-512 CPU: start the JVM with OPENBLAS_CORETYPE=SkylakeX"
                + " (./kiln does) so the peer uses its best kernel";
    }

    /** The CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere. */
    private static List<String> cpuFlags() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("flags")).findFirst()
                    .map(l -> List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))).orElse(List.of());
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return List.of();
        }
    }

    private static String oneLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** Where the library was found: the soname or a path. */
    public String location() { return location; }

    /** OpenBLAS's build description (version, target core, threading), or "unknown". */
    public String config() {
        if (getConfig == null) return "unknown";
        try {
            MemorySegment p = (MemorySegment) getConfig.invokeExact();
            return p.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The kernel family OpenBLAS runs (e.g. "SkylakeX", "Haswell"), or "unknown". */
    public String coreName() {
        if (getCoreName == null) return "unknown";
        try {
            MemorySegment p = (MemorySegment) getCoreName.invokeExact();
            return p.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Sets OpenBLAS's worker count for every later call in this process. */
    public void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("openblas: threads must be >= 1, got " + threads);
        try {
            setThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** OpenBLAS's current worker count, or -1 when the library does not export the query. */
    public int threads() {
        if (getThreads == null) return -1;
        try {
            return (int) getThreads.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Row-major C = alpha * op(A) * op(B) + beta * C in f32. Leading dimensions as in CBLAS: A has
     * lda >= (transA ? m : k), B ldb >= (transB ? k : n), C ldc >= n. Segments must be native and large enough.
     */
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        checkGemm("sgemm", transA, transB, m, n, k, lda, ldb, ldc, 4, a, b, c);
        try {
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Row-major C = alpha * op(A) * op(B) + beta * C in f64; same contract as {@link #sgemm}. */
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, double beta, MemorySegment c, int ldc) {
        checkGemm("dgemm", transA, transB, m, n, k, lda, ldb, ldc, 8, a, b, c);
        try {
            dgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Row-major y = alpha * A * x + beta * y in f32, A m x n with lda >= n, unit strides. */
    public void sgemv(int m, int n, float alpha, MemorySegment a, int lda, MemorySegment x, float beta, MemorySegment y) {
        if (m < 0 || n < 0 || lda < Math.max(1, n))
            throw new IllegalArgumentException("sgemv: need m, n >= 0 and lda >= max(1, n), got m=" + m + " n=" + n + " lda=" + lda);
        need("sgemv", "A", a, m == 0 ? 0 : ((long) (m - 1) * lda + n) * 4);
        need("sgemv", "x", x, 4L * n);
        need("sgemv", "y", y, 4L * m);
        try {
            sgemv.invokeExact(ROW_MAJOR, NO_TRANS, m, n, alpha, a, lda, x, 1, beta, y, 1);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The f32 dot product of n elements of x and y, incx and incy apart (>= 1). */
    public float sdot(int n, MemorySegment x, int incx, MemorySegment y, int incy) {
        checkVectors("sdot", n, x, incx, y, incy);
        try {
            return (float) sdot.invokeExact(n, x, incx, y, incy);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** y = alpha * x + y on n f32 elements, incx and incy apart (>= 1). */
    public void saxpy(int n, float alpha, MemorySegment x, int incx, MemorySegment y, int incy) {
        checkVectors("saxpy", n, x, incx, y, incy);
        try {
            saxpy.invokeExact(n, alpha, x, incx, y, incy);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** x = alpha * x on n f32 elements, incx apart (>= 1). */
    public void sscal(int n, float alpha, MemorySegment x, int incx) {
        checkVectors("sscal", n, x, incx, x, 1);
        try {
            sscal.invokeExact(n, alpha, x, incx);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void checkVectors(String op, int n, MemorySegment x, int incx, MemorySegment y, int incy) {
        if (n < 0 || incx < 1 || incy < 1)
            throw new IllegalArgumentException(op + ": need n >= 0 and increments >= 1, got n=" + n + " incx=" + incx + " incy=" + incy);
        need(op, "x", x, n == 0 ? 0 : ((long) (n - 1) * incx + 1) * 4);
        need(op, "y", y, n == 0 ? 0 : ((long) (n - 1) * incy + 1) * 4);
    }

    private static void checkGemm(String op, boolean ta, boolean tb, int m, int n, int k, int lda, int ldb, int ldc,
                                  int width, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (m < 0 || n < 0 || k < 0)
            throw new IllegalArgumentException(op + ": negative extent m=" + m + " n=" + n + " k=" + k);
        int rowsA = ta ? k : m, colsA = ta ? m : k, rowsB = tb ? n : k, colsB = tb ? k : n;
        if (lda < Math.max(1, colsA) || ldb < Math.max(1, colsB) || ldc < Math.max(1, n))
            throw new IllegalArgumentException(op + ": leading dimensions too small: lda=" + lda + " (needs " + colsA
                    + ") ldb=" + ldb + " (needs " + colsB + ") ldc=" + ldc + " (needs " + n + ")");
        need(op, "A", a, span(rowsA, colsA, lda) * width);
        need(op, "B", b, span(rowsB, colsB, ldb) * width);
        need(op, "C", c, span(m, n, ldc) * width);
    }

    private static long span(int rows, int cols, int ld) { return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols; }

    private static void need(String op, String name, MemorySegment s, long bytes) {
        if (s == null) throw new IllegalArgumentException(op + ": " + name + " is null");
        if (!s.isNative()) throw new IllegalArgumentException(op + ": " + name + " must be a native segment (allocate it in an Arena)");
        if (s.byteSize() < bytes)
            throw new IllegalArgumentException(op + ": " + name + " has " + s.byteSize() + " bytes, needs " + bytes);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("openblas call failed", t);
    }

    @Override public String toString() { return "OpenBLAS at " + location; }
}
