package dev.kiln.opencl;

import java.util.Locale;

/**
 * This backend's own trace lines (which GEMM variant a plan uses and where it came from; each kernel's
 * device time when queues profile), on stderr beside dispatch's, under the same switch: {@code -Dkiln.verbose}
 * or else {@code KILN_VERBOSE} naming {@code dispatch}, {@code opencl} or {@code all}.
 */
final class ClTrace {
    private ClTrace() {}

    static boolean enabled() {
        String v = System.getProperty("kiln.verbose");
        if (v == null || v.isBlank()) v = System.getenv("KILN_VERBOSE");
        if (v == null) return false;
        for (String part : v.toLowerCase(Locale.ROOT).split("[,\\s]+"))
            if (part.equals("dispatch") || part.equals("opencl") || part.equals("all")) return true;
        return false;
    }

    static void line(String text) { System.err.println(text); }
}
