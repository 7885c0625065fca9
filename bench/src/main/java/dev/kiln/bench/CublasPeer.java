package dev.kiln.bench;

import java.io.PrintWriter;
import java.lang.foreign.AddressLayout;
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
 * cuBLAS as the GPU peer of {@code kiln bench gemm}: {@code cublasSgemm_v2} of whichever {@code libcublas.so.N}
 * loads (13, 12, then 11; or the file named by KILN_CUBLAS / -Dkiln.cublas, e.g. inside a PyTorch install),
 * called through FFM, so the comparison needs neither JCublas nor a matching CUDA toolkit. Device memory and
 * the context come from the driver ({@code libcuda.so.1}) through FFM as well: the primary context of device 0,
 * which the CUDA backend's JCuda code shares, made current on the calling thread; the operands are copied in
 * once and each timed call is one cublasSgemm_v2 plus cuCtxSynchronize.
 *
 * <p>cuBLAS is column-major: row-major C = A B (m x n) is column-major C^T = B^T A^T, one call with B first and
 * m and n swapped. Loading fails soft: {@link #load()} is empty and {@link #absentReason()} says why in one line
 * (no driver, no cuBLAS, no GPU, native access disabled).
 */
final class CublasPeer implements AutoCloseable {
    private static final List<String> SONAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so.11");
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong J = ValueLayout.JAVA_LONG;
    private static final AddressLayout P = ValueLayout.ADDRESS;

    private final String location;
    private final Driver cu;
    private final MethodHandle sgemm, destroy;
    private final MemorySegment handle;
    private final int device;
    private boolean closed;

    /** The driver calls the peer needs. */
    private record Driver(MethodHandle init, MethodHandle deviceGet, MethodHandle retain, MethodHandle release,
                          MethodHandle setCurrent, MethodHandle alloc, MethodHandle free, MethodHandle toDevice,
                          MethodHandle toHost, MethodHandle synchronize, MethodHandle errorName) {
        static Driver of(SymbolLookup lib) {
            Linker l = Linker.nativeLinker();
            return new Driver(h(l, lib, "cuInit", FunctionDescriptor.of(I, I)),
                    h(l, lib, "cuDeviceGet", FunctionDescriptor.of(I, P, I)),
                    h(l, lib, "cuDevicePrimaryCtxRetain", FunctionDescriptor.of(I, P, I)),
                    h(l, lib, "cuDevicePrimaryCtxRelease_v2", FunctionDescriptor.of(I, I)),
                    h(l, lib, "cuCtxSetCurrent", FunctionDescriptor.of(I, P)),
                    h(l, lib, "cuMemAlloc_v2", FunctionDescriptor.of(I, P, J)),
                    h(l, lib, "cuMemFree_v2", FunctionDescriptor.of(I, J)),
                    h(l, lib, "cuMemcpyHtoD_v2", FunctionDescriptor.of(I, J, P, J)),
                    h(l, lib, "cuMemcpyDtoH_v2", FunctionDescriptor.of(I, P, J, J)),
                    h(l, lib, "cuCtxSynchronize", FunctionDescriptor.of(I)),
                    h(l, lib, "cuGetErrorName", FunctionDescriptor.of(I, I, P)));
        }
    }

    private static MethodHandle h(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
        return linker.downcallHandle(lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " not found")), fd);
    }

    private CublasPeer(String location, Driver cu, SymbolLookup cublas, int device, MemorySegment context) throws Throwable {
        this.location = location;
        this.cu = cu;
        this.device = device;
        Linker l = Linker.nativeLinker();
        MethodHandle create = h(l, cublas, "cublasCreate_v2", FunctionDescriptor.of(I, P));
        this.destroy = h(l, cublas, "cublasDestroy_v2", FunctionDescriptor.of(I, P));
        // cublasSgemm_v2(handle, transa, transb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc)
        this.sgemm = h(l, cublas, "cublasSgemm_v2", FunctionDescriptor.of(I, P, I, I, I, I, I, P, P, I, P, I, P, P, I));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(P);
            int s = (int) create.invokeExact(out);
            if (s != 0) throw new IllegalStateException("cublasCreate_v2 returned status " + s);
            this.handle = out.get(P, 0);
        }
    }

    private record Loaded(CublasPeer peer, String reason) {}

    private static final class Holder {
        static final Loaded LOADED = find();
    }

    /** The peer, loaded once per process; empty with {@link #absentReason()} when it cannot run. */
    static Optional<CublasPeer> load() { return Optional.ofNullable(Holder.LOADED.peer()); }

    /** Why {@link #load()} is empty (one line), or "" when it is not. */
    static String absentReason() { return Holder.LOADED.reason(); }

    /** The libraries to try, in order: the override first, then the sonames, newest first. */
    static List<String> candidates(String override) {
        List<String> c = new ArrayList<>();
        if (override != null && !override.isBlank()) c.add(override.strip());
        c.addAll(SONAMES);
        return c;
    }

    private static Loaded find() {
        Driver cu;
        try {
            cu = Driver.of(SymbolLookup.libraryLookup("libcuda.so.1", Arena.global()));
        } catch (IllegalCallerException e) {
            return new Loaded(null, "native access is disabled: run with --enable-native-access=ALL-UNNAMED");
        } catch (RuntimeException e) {
            return new Loaded(null, "no NVIDIA driver (libcuda.so.1 did not load: " + oneLine(e) + ")");
        }
        List<String> tried = new ArrayList<>();
        SymbolLookup cublas = null;
        String location = null;
        for (String c : candidates(System.getProperty("kiln.cublas", System.getenv("KILN_CUBLAS")))) {
            boolean path = c.contains("/");
            if (path && !Files.isRegularFile(Path.of(c))) { tried.add(c + " (no such file)"); continue; }
            try {
                cublas = path ? SymbolLookup.libraryLookup(Path.of(c), Arena.global()) : SymbolLookup.libraryLookup(c, Arena.global());
                location = c;
                break;
            } catch (RuntimeException e) {
                tried.add(c);
            }
        }
        if (cublas == null)
            return new Loaded(null, "cuBLAS not found (set KILN_CUBLAS to a libcublas.so.N); tried " + String.join(", ", tried));
        try (Arena a = Arena.ofConfined()) {
            check(cu, "cuInit", (int) cu.init().invokeExact(0));
            MemorySegment dev = a.allocate(I);
            check(cu, "cuDeviceGet", (int) cu.deviceGet().invokeExact(dev, 0));
            int device = dev.get(I, 0);
            MemorySegment ctx = a.allocate(P);
            check(cu, "cuDevicePrimaryCtxRetain", (int) cu.retain().invokeExact(ctx, device));
            MemorySegment context = ctx.get(P, 0);
            try {
                check(cu, "cuCtxSetCurrent", (int) cu.setCurrent().invokeExact(context));
                return new Loaded(new CublasPeer(location, cu, cublas, device, context), "");
            } catch (Throwable t) {
                int ignored = (int) cu.release().invokeExact(device);
                throw t;
            }
        } catch (Throwable t) {
            return new Loaded(null, "cuBLAS " + location + " loaded but cannot run: " + oneLine(t));
        }
    }

    private static void check(Driver cu, String call, int result) throws Throwable {
        if (result == 0) return;
        String name = "CUresult " + result;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(P);
            if ((int) cu.errorName().invokeExact(result, out) == 0)
                name = out.get(P, 0).reinterpret(64).getString(0);
        }
        throw new IllegalStateException(call + ": " + name);
    }

    private static String oneLine(Throwable t) {
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    String location() { return location; }

    /**
     * Times cublasSgemm_v2 on {@code ops} (copied in once; C poisoned with NaN first and checked once like every
     * bench row), each call synchronised; GFLOP/s from the median of a {@code budgetSeconds} time box, or NaN
     * with a note on {@code out} when it fails.
     */
    double gflops(GemmOperands ops, double budgetSeconds, PrintWriter out) {
        GemmBench.Shape s = ops.shape();
        int m = s.m(), n = s.n(), k = s.k();
        long[] ptr = new long[3];
        try (Arena a = Arena.ofConfined()) {
            check(cu, "cuCtxSetCurrent", (int) cu.setCurrent().invokeExact(currentContext(a)));
            long[] bytes = {4L * m * k, 4L * k * n, 4L * m * n};
            for (int i = 0; i < 3; i++) {
                MemorySegment p = a.allocate(J);
                check(cu, "cuMemAlloc_v2 of " + bytes[i] + " bytes", (int) cu.alloc().invokeExact(p, bytes[i]));
                ptr[i] = p.get(J, 0);
            }
            check(cu, "copy A", (int) cu.toDevice().invokeExact(ptr[0], a.allocateFrom(ValueLayout.JAVA_FLOAT, ops.a()), bytes[0]));
            check(cu, "copy B", (int) cu.toDevice().invokeExact(ptr[1], a.allocateFrom(ValueLayout.JAVA_FLOAT, ops.b()), bytes[1]));
            float[] nan = new float[m * n];
            java.util.Arrays.fill(nan, Float.NaN);
            MemorySegment host = a.allocateFrom(ValueLayout.JAVA_FLOAT, nan);
            check(cu, "poison C", (int) cu.toDevice().invokeExact(ptr[2], host, bytes[2]));
            MemorySegment alpha = a.allocateFrom(ValueLayout.JAVA_FLOAT, 1f), beta = a.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
            MemorySegment da = MemorySegment.ofAddress(ptr[0]), db = MemorySegment.ofAddress(ptr[1]), dc = MemorySegment.ofAddress(ptr[2]);
            Runnable call = () -> {
                try {
                    // Column-major C^T (n x m) = B^T (n x k, ld n) A^T (k x m, ld k): CUBLAS_OP_N is 0.
                    int st = (int) sgemm.invokeExact(handle, 0, 0, n, m, k, alpha, db, n, da, k, beta, dc, n);
                    if (st != 0) throw new IllegalStateException("cublasSgemm_v2 returned status " + st);
                    check(cu, "cuCtxSynchronize", (int) cu.synchronize().invokeExact());
                } catch (RuntimeException e) {
                    throw e;
                } catch (Throwable t) {
                    throw new IllegalStateException(t);
                }
            };
            call.run();
            check(cu, "copy C back", (int) cu.toHost().invokeExact(host, ptr[2], bytes[2]));
            String verdict = ops.check(host.toArray(ValueLayout.JAVA_FLOAT));
            if (!verdict.equals("ok")) out.println("# warning: cuBLAS result " + verdict);
            Timing time = Timing.measure(call, budgetSeconds);
            return 2.0 * m * n * k / time.median() * 1e-9;
        } catch (Throwable t) {
            out.println("# cuBLAS " + m + "x" + n + "x" + k + " failed: " + oneLine(t));
            return Double.NaN;
        } finally {
            for (long p : ptr) {
                if (p == 0) continue;
                try {
                    int ignored = (int) cu.free().invokeExact(p);
                } catch (Throwable ignored) {
                    // freeing is best effort: the context keeps nothing else of ours
                }
            }
        }
    }

    /** The primary context again (retained once at load, so this is the same one and adds no reference). */
    private MemorySegment currentContext(Arena a) throws Throwable {
        MemorySegment ctx = a.allocate(P);
        check(cu, "cuDevicePrimaryCtxRetain", (int) cu.retain().invokeExact(ctx, device));
        int ignored = (int) cu.release().invokeExact(device);   // balance the retain just made
        return ctx.get(P, 0);
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            int ignored = (int) destroy.invokeExact(handle);
            int alsoIgnored = (int) cu.release().invokeExact(device);
        } catch (Throwable ignored) {
            // at exit; nothing to recover
        }
    }
}
