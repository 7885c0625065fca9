package dev.kiln.bench;

import dev.kiln.dispatch.BackendStatus;
import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Picks Kiln devices and kernels for the benchmarks through dispatch's discovery, bypassing its routing:
 * a benchmark names the backend (optionally {@code backend/impl}), and the kernel's plan runs directly on
 * operands resident on that device, so the figure is kernel time without staging copies.
 * Bench does not depend on any backend module at compile time; the CPU thread count is set through
 * {@code dev.kiln.cpu.CpuThreads.setThreads} by reflection when that class is on the class path.
 */
public final class Backends {
    private Backends() {}

    /** Thrown when a backend or kernel cannot be used here; the message is the one-line reason. */
    public static final class Unavailable extends Exception {
        public Unavailable(String reason) { super(reason); }
    }

    /** Names of the backends with at least one opened device, in dispatch's priority order. */
    public static List<String> available() {
        Set<String> names = new LinkedHashSet<>();
        for (Device d : Dispatch.get().devices()) names.add(d.backend());
        return new ArrayList<>(names);
    }

    /**
     * The highest-priority device of each requested backend (every available one when {@code requested} is
     * empty), in order; each one skipped and the empty result are reported on {@code out} as table comments.
     */
    public static java.util.Map<String, Device> open(List<String> requested, java.io.PrintWriter out) {
        java.util.Map<String, Device> devices = new java.util.LinkedHashMap<>();
        for (String b : requested.isEmpty() ? available() : requested) {
            try {
                devices.put(b, device(b));
            } catch (Unavailable e) {
                out.println("# skip " + b + ": " + e.getMessage());
            }
        }
        for (var e : devices.entrySet()) out.println("# " + e.getKey() + ": " + e.getValue().name());
        if (devices.isEmpty()) out.println("# nothing to measure: no requested backend is available");
        return devices;
    }

    /** The highest-priority device of {@code backend} ({@code backend} or {@code backend/impl}). */
    public static Device device(String backend) throws Unavailable {
        String name = backendName(backend);
        for (Device d : Dispatch.get().devices()) if (d.backend().equals(name)) return d;
        for (BackendStatus s : Dispatch.get().backends()) {
            if (s.name().equals(name)) throw new Unavailable(name + ": " + (s.available() ? "opened no devices" : s.reason()));
        }
        throw new Unavailable(name + ": no such backend on the class path (found: " + names() + ")");
    }

    /**
     * A plan for {@code desc} from the device's best supporting implementation, or from the one named after
     * a slash. The caller closes it.
     */
    public static Plan plan(Device device, String backend, OpDesc desc) throws Unavailable {
        return implementation(device, backend, desc).plan(desc);
    }

    /** The implementation {@link #plan} uses: the device's first that supports {@code desc}, or the named one. */
    public static KernelImpl implementation(Device device, String backend, OpDesc desc) throws Unavailable {
        String wanted = backend.contains("/") ? backend.substring(backend.indexOf('/') + 1) : null;
        List<String> why = new ArrayList<>();
        for (KernelImpl impl : device.implementations(desc.kind())) {
            if (wanted != null && !impl.name().equals(wanted)) continue;
            Support s = impl.supports(desc);
            if (s.ok()) return impl;
            why.add(impl.name() + ": " + s.reason());
        }
        if (why.isEmpty())
            throw new Unavailable(backend + ": no " + (wanted == null ? "" : wanted + " ") + desc.kind().lower() + " implementation");
        throw new Unavailable(backend + " cannot run " + desc.opName() + " " + desc.shape() + ": " + String.join("; ", why));
    }

    static String backendName(String backend) {
        int slash = backend.indexOf('/');
        return slash < 0 ? backend : backend.substring(0, slash);
    }

    private static String names() {
        List<String> n = new ArrayList<>();
        for (BackendStatus s : Dispatch.get().backends()) n.add(s.name() + (s.available() ? "" : " (unavailable)"));
        return n.isEmpty() ? "none" : String.join(", ", n);
    }

    /** True for the CPU backend ({@code cpu} or {@code cpu/impl}), the one whose thread count a benchmark sets. */
    public static boolean isCpuBackend(String backend) { return backendName(backend).equals("cpu"); }

    /**
     * The threads column for a device whose threads the benchmark does not set: for a CPU-type device of another
     * backend (an OpenCL CPU driver such as POCL) its compute units, the worker threads the driver runs kernels
     * on; 0 for a GPU or accelerator, or when the device does not say.
     */
    public static int deviceThreads(Device device) {
        if (device.kind() != DeviceKind.CPU) return 0;
        try {
            return Integer.parseInt(device.properties().getOrDefault("compute units", "0").strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** The CPU backend's current thread count, or -1 when {@code dev.kiln.cpu.CpuThreads} is not on the class path. */
    public static int cpuThreads() {
        try {
            return (int) Class.forName("dev.kiln.cpu.CpuThreads").getMethod("threads").invoke(null);
        } catch (ReflectiveOperationException | ClassCastException e) {
            return -1;
        }
    }

    /**
     * Sets the CPU backend's thread count. Returns null on success, else why it could not (the CPU backend
     * is not on the class path, or has no such setting), so the caller can report it next to the figure.
     */
    public static String setCpuThreads(int threads) {
        try {
            Class<?> c = Class.forName("dev.kiln.cpu.CpuThreads");
            Method set = c.getMethod("setThreads", int.class);
            set.invoke(null, threads);
            return null;
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            System.setProperty("kiln.threads", Integer.toString(threads)); // in case the pool is created later
            return "cannot set cpu threads (dev.kiln.cpu.CpuThreads.setThreads not found); set -Dkiln.threads=" + threads;
        } catch (IllegalAccessException e) {
            return "cannot set cpu threads: " + e.getMessage();
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException("cpu threads: " + e.getCause().getMessage(), e.getCause());
        }
    }
}
