package dev.kiln.dispatch;

import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The choice for one (descriptor, placement): devices by priority, highest first (the device already
 * holding the operands moved to the front), each device's implementations best first; the first that
 * supports the op wins unless the copy-cost rule sends it back to the host. Every candidate passed over is
 * recorded with its reason. Stateless after construction, so safe to share between threads.
 */
final class Router {
    /** Kernel launch plus copy set-up, per call, charged to devices that need host operands copied. */
    static final double LAUNCH_SECONDS = 20e-6;

    /** A chosen implementation and the decision that explains it. */
    record Route(Decision decision, KernelImpl impl) {}

    private final List<Device> devices;
    private final List<BackendStatus> statuses;
    private final HostFallback fallback;
    private final String forced;
    private final Map<Device, String> labels = new IdentityHashMap<>();

    Router(List<BackendStatus> statuses, List<Device> devices, HostFallback fallback, String forced) {
        this.statuses = statuses;
        this.devices = devices;
        this.fallback = fallback;
        this.forced = forced;
        Map<String, Integer> perBackend = new java.util.HashMap<>();
        for (Device d : devices) perBackend.merge(d.backend(), 1, Integer::sum);
        // "cpu/vector-gemm" reads best; the device name is added only when a backend has several devices.
        for (Device d : devices) labels.put(d, perBackend.get(d.backend()) > 1 ? copyLabel(d) : d.backend());
        labels.put(fallback, HostFallback.BACKEND);
    }

    /** {@code backend:name}, as copies are traced. */
    static String copyLabel(Device d) { return d.backend() + ":" + d.name(); }

    Route route(OpDesc desc, Placement placement) {
        return forced == null ? automatic(desc, placement) : forced(desc, placement);
    }

    private Route automatic(OpDesc desc, Placement placement) {
        List<String> rejected = new ArrayList<>();
        for (BackendStatus s : statuses)
            if (!s.available()) rejected.add(s.name() + ": unavailable: " + s.reason());
        List<Device> order = ordered(devices, placement.residentDevice(desc));
        boolean hostOperands = placement.allHost();
        for (int i = 0; i < order.size(); i++) {
            Device d = order.get(i);
            KernelImpl impl = firstSupporting(d, desc, null, rejected);
            if (impl == null) continue;
            if (hostOperands && !d.usesHostMemory()) {
                String why = copyCost(desc, d, order.subList(i + 1, order.size()));
                if (why != null) {
                    rejected.add(labels.get(d) + "/" + impl.name() + ": copy cost: " + why);
                    continue;
                }
            }
            return route(desc, placement, d, impl, rejected);
        }
        KernelImpl ref = fallback.implementations(desc.kind()).getFirst();
        return route(desc, placement, fallback, ref, rejected);
    }

    /**
     * A forced backend (optionally {@code backend/impl}) runs the op or throws: no copy-cost rule, no
     * fallback, because a person asked for exactly this.
     */
    private Route forced(OpDesc desc, Placement placement) {
        int slash = forced.indexOf('/');
        String backend = slash < 0 ? forced : forced.substring(0, slash);
        String implName = slash < 0 ? null : forced.substring(slash + 1);
        String op = desc.opName() + " " + desc.shape();
        List<String> rejected = new ArrayList<>();
        if (backend.equalsIgnoreCase(HostFallback.BACKEND) || backend.equalsIgnoreCase("ref")) {
            KernelImpl ref = firstSupporting(fallback, desc, implName, rejected);
            if (ref == null) throw new IllegalStateException(op + ": forced backend " + forced + " cannot run it: " + String.join("; ", rejected));
            return route(desc, placement, fallback, ref, rejected);
        }
        BackendStatus status = null;
        for (BackendStatus s : statuses) if (s.name().equalsIgnoreCase(backend)) status = s;
        if (status == null)
            throw new IllegalStateException(op + ": forced backend " + backend + " not found (known: " + known() + ")");
        if (!status.available())
            throw new IllegalStateException(op + ": forced backend " + status.name() + " is unavailable: " + status.reason());
        for (Device d : ordered(status.devices(), placement.residentDevice(desc))) {
            KernelImpl impl = firstSupporting(d, desc, implName, rejected);
            if (impl != null) return route(desc, placement, d, impl, rejected);
        }
        throw new IllegalStateException(op + ": forced backend " + forced + " cannot run " + desc.opName() + ": "
                + (rejected.isEmpty() ? "no implementation found" : String.join("; ", rejected)));
    }

    private Route route(OpDesc desc, Placement placement, Device d, KernelImpl impl, List<String> rejected) {
        return new Route(new Decision(desc, d, impl.name(), rejected, copies(desc, placement, d)), impl);
    }

    /** Devices by priority, highest first, stable; the one holding the operands goes first. */
    private static List<Device> ordered(List<Device> devices, Device resident) {
        List<Device> order = new ArrayList<>(devices);
        order.sort((a, b) -> Integer.compare(b.priority(), a.priority()));
        if (resident != null && order.remove(resident)) order.addFirst(resident);
        return order;
    }

    /**
     * The device's first implementation (named {@code only}, when given) that supports {@code desc}, or
     * null; every refusal goes to {@code rejected}. A {@code supports} that throws counts as a refusal.
     */
    private KernelImpl firstSupporting(Device d, OpDesc desc, String only, List<String> rejected) {
        String label = labels.get(d);
        List<KernelImpl> impls = d.implementations(desc.kind());
        if (impls == null || impls.isEmpty()) {
            rejected.add(label + ": no " + desc.kind().lower() + " kernels");
            return null;
        }
        boolean named = false;
        for (KernelImpl impl : impls) {
            if (only != null && !impl.name().equalsIgnoreCase(only)) continue;
            named = true;
            Support s;
            try {
                s = impl.supports(desc);
            } catch (RuntimeException e) {
                s = Support.no("supports() threw " + Discovery.oneLine(e));
            }
            if (s != null && s.ok()) return impl;
            rejected.add(label + "/" + impl.name() + ": " + (s == null ? "supports() returned null" : s.reason()));
        }
        if (!named) {
            List<String> names = impls.stream().map(KernelImpl::name).toList();
            rejected.add(label + ": no " + desc.kind().lower() + " implementation " + only + " (has " + String.join(", ", names) + ")");
        }
        return null;
    }

    /**
     * Null when running on {@code d} beats the host for host operands, else why not: the device pays
     * compute, the copy of every operand at its copy bandwidth and a fixed launch latency; the host pays
     * compute on the first host-memory device after {@code d} that supports the op (the reference rate
     * when none does).
     */
    private String copyCost(OpDesc desc, Device d, List<Device> after) {
        double flops = Math.max(0, desc.flops());
        double bytes = desc.operandBytes();
        double compute = flops / (rate(d.estimatedGflops()) * 1e9);
        double copy = bytes / (rate(d.copyBandwidthGBps()) * 1e9);
        double device = compute + copy + LAUNCH_SECONDS;
        Device host = fallback;
        for (Device h : after) {
            if (h.usesHostMemory() && supportsQuietly(h, desc)) {
                host = h;
                break;
            }
        }
        double hostRate = rate(host.estimatedGflops());
        double cpu = flops / (hostRate * 1e9);
        if (device < cpu) return null;
        return String.format(Locale.ROOT, "%s here (%s compute + %s to copy %s + %s launch) vs %s on %s at %.0f GFLOP/s",
                time(device), time(compute), time(copy), size(bytes), time(LAUNCH_SECONDS), time(cpu), labels.get(host), hostRate);
    }

    private static boolean supportsQuietly(Device d, OpDesc desc) {
        try {
            Support s = d.supports(desc);
            return s != null && s.ok();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** A rate a device reports as zero, negative or NaN is treated as 1 per second, infinity as free. */
    private static double rate(double perSecond) {
        return perSecond > 0 ? perSecond : 1.0;
    }

    /** The copies a call with this placement makes to run on {@code d}: inputs in, outputs back. */
    static List<String> copies(OpDesc desc, Placement placement, Device d) {
        List<String> out = new ArrayList<>();
        List<ArgSpec> specs = desc.args();
        String target = d.usesHostMemory() ? "host" : copyLabel(d);
        for (int i = 0; i < specs.size(); i++) {
            ArgSpec s = specs.get(i);
            Placement.Where w = placement.where().get(i);
            if (w.usableOn(d)) continue;
            long bytes = s.dtype().bytes(s.count());
            if (s.access().reads()) out.add(s.arg() + " " + w.label() + "→" + target + " " + bytes + " B");
            if (s.access().writes()) out.add(s.arg() + " " + target + "→" + w.label() + " " + bytes + " B");
        }
        return out;
    }

    private String known() {
        List<String> names = new ArrayList<>();
        for (BackendStatus s : statuses) names.add(s.name() + (s.available() ? "" : " (unavailable)"));
        names.add(HostFallback.BACKEND);
        return String.join(", ", names);
    }

    private static String time(double seconds) {
        if (seconds >= 1) return String.format(Locale.ROOT, "%.2f s", seconds);
        if (seconds >= 1e-3) return String.format(Locale.ROOT, "%.2f ms", seconds * 1e3);
        return String.format(Locale.ROOT, "%.1f µs", seconds * 1e6);
    }

    private static String size(double bytes) {
        if (bytes >= 1 << 20) return String.format(Locale.ROOT, "%.1f MiB", bytes / (1 << 20));
        if (bytes >= 1 << 10) return String.format(Locale.ROOT, "%.1f KiB", bytes / (1 << 10));
        return String.format(Locale.ROOT, "%.0f B", bytes);
    }
}
