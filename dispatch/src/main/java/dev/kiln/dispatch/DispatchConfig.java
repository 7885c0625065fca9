package dev.kiln.dispatch;

import java.io.PrintStream;
import java.util.Locale;

/**
 * How dispatch chooses and what it reports.
 *
 * @param forcedBackend null for automatic choice; else a backend name ({@code cpu}, {@code opencl},
 *                      {@code cuda}, or {@code host}/{@code ref} for the reference kernels), optionally
 *                      narrowed to one implementation as {@code backend/impl}. A forced choice skips the
 *                      copy-cost rule and never falls back: an op it cannot run throws.
 * @param verbose       print one line per new decision (and one per skipped backend) to {@code trace}
 * @param trace         where verbose lines go; null means {@code System.err}
 */
public record DispatchConfig(String forcedBackend, boolean verbose, PrintStream trace) {
    public DispatchConfig {
        forcedBackend = forcedBackend == null || forcedBackend.isBlank() ? null : forcedBackend.strip();
        trace = trace == null ? System.err : trace;
    }

    /** Automatic choice, quiet. */
    public static DispatchConfig defaults() { return new DispatchConfig(null, false, System.err); }

    /**
     * From {@code -Dkiln.backend} or else the {@code KILN_BACKEND} environment variable, and
     * {@code -Dkiln.verbose} or else {@code KILN_VERBOSE}: verbose when that comma-separated list names
     * {@code dispatch} or {@code all}. The system property wins so a test or tool can override the shell.
     */
    public static DispatchConfig fromEnvironment() {
        String backend = setting("kiln.backend", "KILN_BACKEND");
        String verbose = setting("kiln.verbose", "KILN_VERBOSE");
        boolean on = false;
        if (verbose != null) {
            for (String part : verbose.toLowerCase(Locale.ROOT).split("[,\\s]+"))
                on |= part.equals("dispatch") || part.equals("all");
        }
        return new DispatchConfig(backend, on, System.err);
    }

    private static String setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) v = System.getenv(env);
        return v == null || v.isBlank() ? null : v.strip();
    }
}
