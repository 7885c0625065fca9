package dev.kiln.cli;

import dev.kiln.dispatch.BackendStatus;
import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.io.Json;
import dev.kiln.kernels.spi.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code kiln info}: the JDK, the Vector API as the CPU backend sees it, and one line per backend saying
 * whether it is available here (with its devices) or why not. Never prints a stack trace: a backend's
 * reason is cut to its first line.
 */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Shows the JDK, the Vector API and every backend: available with its devices, or why not.")
public final class InfoCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin ThreadsOption threadsOption;

    static final String VECTOR_MODULE = "jdk.incubator.vector";
    /** The CPU backend's property keys that describe the Vector API, e.g. {@code vector.kernels}. */
    static final String VECTOR_PREFIX = "vector.";

    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object instead of lines.")
    boolean json;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<BackendStatus> backends = Dispatch.get().backends();
        Device cpu = cpuDevice(backends);
        if (json) out.println(Json.write(toJson(backends, cpu)));
        else printLines(out, backends, cpu);
        out.flush();
        return 0;
    }

    private static void printLines(PrintWriter out, List<BackendStatus> backends, Device cpu) {
        out.println("jdk " + Runtime.version() + " " + System.getProperty("java.vendor", "") + " ("
                + System.getProperty("java.vm.name", "") + ")");
        Map<String, String> props = cpu == null ? Map.of() : new TreeMap<>(cpu.properties());
        Map<String, String> vector = vectorProperties(props), rest = new TreeMap<>(props);
        rest.keySet().removeIf(key -> key.startsWith(VECTOR_PREFIX));
        out.println("vector " + vectorModuleLine() + (vector.isEmpty() ? "" : "; " + joined(vector)));
        if (cpu != null) out.println("cpu " + cpu.name() + (rest.isEmpty() ? "" : ": " + joined(rest)));
        for (BackendStatus b : backends) {
            if (b.available()) {
                List<String> names = new ArrayList<>();
                for (Device d : b.devices()) names.add(d.name() + " (" + d.kind().name().toLowerCase(Locale.ROOT) + ")");
                out.println("backend " + b.name() + " available: " + (names.isEmpty() ? "no devices" : String.join("; ", names)));
            } else {
                out.println("backend " + b.name() + " unavailable: " + reason(b));
            }
        }
    }

    private static Map<String, Object> toJson(List<BackendStatus> backends, Device cpu) {
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> jdk = new LinkedHashMap<>();
        jdk.put("version", Runtime.version().toString());
        jdk.put("vendor", System.getProperty("java.vendor", ""));
        jdk.put("vm", System.getProperty("java.vm.name", ""));
        root.put("jdk", jdk);
        Map<String, Object> vector = new LinkedHashMap<>();
        vector.put("module", VECTOR_MODULE);
        vector.put("loaded", vectorModuleLoaded());
        vector.putAll(vectorProperties(cpu == null ? Map.of() : cpu.properties()));
        root.put("vector", vector);
        List<Object> list = new ArrayList<>();
        for (BackendStatus b : backends) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", b.name());
            m.put("available", b.available());
            m.put("reason", reason(b));
            List<Object> devices = new ArrayList<>();
            for (Device d : b.devices()) devices.add(device(d));
            m.put("devices", devices);
            list.add(m);
        }
        root.put("backends", list);
        return root;
    }

    private static Map<String, Object> device(Device d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("kind", d.kind().name().toLowerCase(Locale.ROOT));
        m.put("priority", d.priority());
        m.put("memoryBytes", d.memoryBytes());
        m.put("usesHostMemory", d.usesHostMemory());
        m.put("estimatedGflops", d.estimatedGflops());
        m.put("copyBandwidthGBps", d.copyBandwidthGBps());
        m.put("properties", new TreeMap<>(d.properties()));
        return m;
    }

    /** The first device of the available {@code cpu} backend, whose properties describe the Vector API. */
    private static Device cpuDevice(List<BackendStatus> backends) {
        for (BackendStatus b : backends)
            if (b.name().equals("cpu") && b.available() && !b.devices().isEmpty()) return b.devices().getFirst();
        return null;
    }

    /**
     * The CPU device's {@code vector.*} properties (kernel width, hardware bits, self-check) without the prefix;
     * empty when there is no CPU device.
     */
    private static Map<String, String> vectorProperties(Map<String, String> cpuProperties) {
        Map<String, String> m = new TreeMap<>();
        for (Map.Entry<String, String> e : cpuProperties.entrySet())
            if (e.getKey().startsWith(VECTOR_PREFIX)) m.put(e.getKey().substring(VECTOR_PREFIX.length()), e.getValue());
        return m;
    }

    static boolean vectorModuleLoaded() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    private static String vectorModuleLine() {
        return vectorModuleLoaded() ? VECTOR_MODULE + " loaded"
                : VECTOR_MODULE + " not loaded (start the JVM with --add-modules " + VECTOR_MODULE + "; ./kiln does)";
    }

    /** The backend's reason as one line; "no reason given" rather than a blank. */
    static String reason(BackendStatus b) {
        String line = Main.firstLine(b.reason());
        return line.isEmpty() ? (b.available() ? "" : "no reason given") : line;
    }

    private static String joined(Map<String, String> props) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : props.entrySet())
            sb.append(sb.isEmpty() ? "" : ", ").append(e.getKey()).append('=').append(Main.firstLine(e.getValue()));
        return sb.toString();
    }
}
