package dev.kiln.cli;

import dev.kiln.dispatch.BackendStatus;
import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.Callable;

/**
 * {@code kiln verify}: the parity harness ({@link Parity}) run against every available device, or one
 * backend's, for every op family or one. Prints one line per op and device, then a total; exits 1 when any
 * case failed. Cases a device does not support are counted, not failed.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Checks every available device against the reference kernels on seeded random inputs at "
                + "awkward sizes; prints one line per op family and backend, and exits 1 on any failure.")
public final class VerifyCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin ThreadsOption threadsOption;

    @Spec CommandSpec spec;

    @Option(names = "--backend", paramLabel = "NAME", description = "Only this backend's devices (cpu, opencl, cuda).")
    String backend;

    @Option(names = "--op", paramLabel = "OP", description = "Only this op family: ${COMPLETION-CANDIDATES}.",
            completionCandidates = OpNames.class)
    String op;

    @Option(names = "--cases", paramLabel = "N", defaultValue = "40",
            description = "At most N cases per op family (default ${DEFAULT-VALUE}; 0 means all).")
    int cases;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the random inputs (default: a fresh one, printed).")
    Long seed;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (cases < 0) throw new ParameterException(spec.commandLine(), "--cases must be 0 (all) or more, got " + cases);
        Set<OpKind> kinds = kinds();
        List<BackendStatus> selected = backends(err);
        if (selected == null) return 1;
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        Map<String, Device> devices = labelled(selected);
        if (devices.isEmpty()) {
            err.println("verify: no device to check (" + (backend == null ? "no backend is available" : backend + " opened none") + ")");
            return 1;
        }
        out.println("verify seed " + s + " (repeat with --seed " + s + ")");
        for (Map.Entry<String, Device> d : devices.entrySet())
            out.println("verify device " + d.getKey() + ": " + d.getValue().name());
        out.flush();

        return check(devices, kinds, cases, s, out) ? 0 : 1;
    }

    /**
     * Checks every labelled device on up to {@code maxCases} cases of each kind, printing one line per kind and
     * device and a total; true when nothing failed. Separate from option handling so tests can pass devices.
     */
    static boolean check(Map<String, Device> devices, Set<OpKind> kinds, int maxCases, long seed, PrintWriter out) {
        Tally total = new Tally();
        for (OpKind kind : kinds) {
            List<OpDesc> descs = Parity.cases(kind, maxCases);
            for (Map.Entry<String, Device> d : devices.entrySet()) {
                Tally t = new Tally();
                for (OpDesc desc : descs) t.add(check(d.getValue(), desc, seed));
                out.println(t.line(kind.lower(), d.getKey()));
                out.flush();
                total.addAll(t);
            }
        }
        out.println("verify: " + total.passed + " passed, " + total.failed + " failed, " + total.unsupported + " unsupported");
        out.flush();
        return total.failed == 0;
    }

    /** The op families to check: all, or the one {@code --op} names (lowercase, '-' or '_' between words). */
    private Set<OpKind> kinds() {
        if (op == null) return EnumSet.allOf(OpKind.class);
        String want = op.strip().toUpperCase(Locale.ROOT).replace('-', '_');
        for (OpKind k : OpKind.values()) if (k.name().equals(want)) return EnumSet.of(k);
        throw new ParameterException(spec.commandLine(), "unknown op '" + op + "' (known: " + String.join(", ", new OpNames()) + ")");
    }

    /** The backends to check, or null after saying why none can be (a named backend that is unavailable). */
    private List<BackendStatus> backends(PrintWriter err) {
        List<BackendStatus> all = Dispatch.get().backends();
        if (backend == null) {
            List<BackendStatus> available = new ArrayList<>();
            for (BackendStatus b : all) if (b.available()) available.add(b);
            return available;
        }
        List<String> known = new ArrayList<>();
        for (BackendStatus b : all) {
            known.add(b.name());
            if (b.name().equalsIgnoreCase(backend.strip())) {
                if (b.available()) return List.of(b);
                err.println("verify: backend " + b.name() + " is unavailable here: " + InfoCommand.reason(b));
                return null;
            }
        }
        throw new ParameterException(spec.commandLine(),
                "unknown backend '" + backend + "' (known: " + String.join(", ", known) + ")");
    }

    /** Each device under a short label: the backend's name, or name#i when the backend has several. */
    private static Map<String, Device> labelled(List<BackendStatus> backends) {
        Map<String, Device> map = new LinkedHashMap<>();
        for (BackendStatus b : backends) {
            List<Device> ds = b.devices();
            for (int i = 0; i < ds.size(); i++) map.put(ds.size() == 1 ? b.name() : b.name() + "#" + i, ds.get(i));
        }
        return map;
    }

    /** One case; a kernel that throws is a failure of that case, not of the whole run. */
    private static ParityResult check(Device device, OpDesc desc, long seed) {
        try {
            return Parity.check(device, desc, seed);
        } catch (RuntimeException | AssertionError e) {
            return new ParityResult(desc, device.name(), "?", seed, ParityResult.Status.FAILED, Double.POSITIVE_INFINITY,
                    desc.opName() + " " + desc.shape() + " seed=" + seed + " threw " + e.getClass().getSimpleName() + ": "
                            + Main.firstLine(String.valueOf(e.getMessage())));
        }
    }

    /** Counts for one op family on one device, keeping the worst failure and the first unsupported reason. */
    private static final class Tally {
        int passed, failed, unsupported;
        ParityResult worst;
        String unsupportedReason;

        void add(ParityResult r) {
            switch (r.status()) {
                case PASSED -> passed++;
                case UNSUPPORTED -> {
                    unsupported++;
                    if (unsupportedReason == null) unsupportedReason = Main.firstLine(r.message());
                }
                case FAILED -> {
                    failed++;
                    if (worst == null || worse(r.worstError(), worst.worstError())) worst = r;
                }
            }
        }

        void addAll(Tally t) {
            passed += t.passed;
            failed += t.failed;
            unsupported += t.unsupported;
        }

        /** NaN (nothing comparable) ranks above every number, infinity above finite errors. */
        private static boolean worse(double a, double b) {
            if (Double.isNaN(b)) return false;
            return Double.isNaN(a) || a > b;
        }

        String line(String op, String device) {
            String tail = unsupported == 0 ? ""
                    : ", " + unsupported + " unsupported" + (unsupportedReason == null || unsupportedReason.isEmpty()
                    ? "" : " (" + unsupportedReason + ")");
            if (failed == 0) return "verify " + op + " " + device + " " + passed + " cases passed" + tail;
            return "verify " + op + " " + device + " FAILED " + failed + " of " + (passed + failed) + " cases, worst error "
                    + String.format(Locale.ROOT, "%.3g", worst.worstError()) + ": " + Main.firstLine(worst.message()) + tail;
        }
    }

    /** The op family names {@code --op} accepts, for the help text. */
    static final class OpNames extends ArrayList<String> {
        OpNames() { for (OpKind k : OpKind.values()) add(k.lower()); }
    }
}
