package dev.kiln.dispatch;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Finding, probing and opening backends. Nothing a provider does here escapes as an exception: every
 * failure becomes an unavailable {@link BackendStatus} with a one-line reason. {@link Throwable} is
 * caught, not just {@link Exception}, because a missing native library surfaces as
 * {@link UnsatisfiedLinkError}, {@link NoClassDefFoundError} or {@link ExceptionInInitializerError}.
 */
final class Discovery {
    private Discovery() {}

    /** Reasons are cut to this many characters so that a status stays one readable line. */
    private static final int MAX_REASON = 240;

    /** Providers that could be instantiated, and a status for each one that could not. */
    record Found(List<BackendProvider> providers, List<BackendStatus> broken) {}

    /** Every {@link BackendProvider} registered with {@link ServiceLoader} on the class path. */
    static Found fromServiceLoader() {
        List<BackendProvider> providers = new ArrayList<>();
        List<BackendStatus> broken = new ArrayList<>();
        Iterator<BackendProvider> it = ServiceLoader.load(BackendProvider.class, Discovery.class.getClassLoader()).iterator();
        // The lazy iterator moves past a provider that fails to load; the bound only guards against a
        // malformed services file that fails the same way forever.
        for (int failures = 0; failures < 64; ) {
            try {
                if (!it.hasNext()) break;
                providers.add(it.next());
            } catch (ServiceConfigurationError | LinkageError e) {
                failures++;
                broken.add(BackendStatus.unavailable(providerName(e), "failed to load: " + loadFailure(e)));
            }
        }
        return new Found(providers, broken);
    }

    /** Probes and opens one provider. */
    static BackendStatus open(BackendProvider provider) {
        String name = nameOf(provider);
        Probe probe;
        try {
            probe = provider.probe();
        } catch (Throwable t) {
            return BackendStatus.unavailable(name, "probe failed: " + oneLine(t));
        }
        if (probe == null) return BackendStatus.unavailable(name, "probe returned null");
        if (!probe.available())
            return BackendStatus.unavailable(name, probe.reason() == null || probe.reason().isBlank()
                    ? "probe said unavailable (no reason given)" : firstLine(probe.reason()));
        List<Device> devices;
        try {
            devices = provider.open();
        } catch (Throwable t) {
            return BackendStatus.unavailable(name, "open failed: " + oneLine(t));
        }
        List<Device> usable = devices == null ? List.of() : devices.stream().filter(Objects::nonNull).toList();
        if (usable.isEmpty()) return BackendStatus.unavailable(name, "opened no devices");
        return new BackendStatus(name, true, usable, probe.reason() == null ? "" : firstLine(probe.reason()));
    }

    static String nameOf(BackendProvider provider) {
        try {
            String n = provider.name();
            if (n != null && !n.isBlank()) return n.strip();
        } catch (Throwable ignored) {
            // A provider that cannot even name itself is still reported, under its class name.
        }
        return provider.getClass().getName();
    }

    /** {@code SimpleClassName: message}, the message's first line, the root cause appended when it differs. */
    static String oneLine(Throwable t) {
        String s = describe(t);
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        if (root != t) s += " (caused by " + describe(root) + ")";
        return clip(s);
    }

    private static String describe(Throwable t) {
        String msg = t.getMessage();
        return t.getClass().getSimpleName() + (msg == null || msg.isBlank() ? "" : ": " + firstLine(msg));
    }

    static String firstLine(String s) {
        String line = s.strip();
        int nl = line.indexOf('\n');
        if (nl >= 0) line = line.substring(0, nl).strip();
        return clip(line);
    }

    private static String clip(String s) {
        return s.length() <= MAX_REASON ? s : s.substring(0, MAX_REASON - 3) + "...";
    }

    /**
     * ServiceLoader's message repeats the service and provider names ("...BackendProvider: Provider x.Y
     * could not be instantiated"); the status already carries the name, so keep what happened and why.
     */
    private static String loadFailure(Throwable e) {
        String msg = e.getMessage() == null ? "" : e.getMessage();
        String name = providerName(e);
        int at = msg.indexOf("Provider " + name + " ");
        if (!(e instanceof ServiceConfigurationError) || at < 0) return oneLine(e);
        String what = firstLine(msg.substring(at + ("Provider " + name + " ").length()));
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return clip(root == e ? what : what + " (caused by " + describe(root) + ")");
    }

    /** ServiceLoader names the provider class in its message ("Provider x.Y could not be instantiated"). */
    private static String providerName(Throwable e) {
        String msg = e.getMessage() == null ? "" : e.getMessage();
        int at = msg.indexOf("Provider ");
        if (at >= 0) {
            String rest = msg.substring(at + "Provider ".length());
            int end = rest.indexOf(' ');
            return end > 0 ? rest.substring(0, end) : rest;
        }
        return "unknown provider";
    }
}
