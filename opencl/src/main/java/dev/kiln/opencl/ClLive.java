package dev.kiln.opencl;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the native OpenCL objects this module has created and not yet released, per kind, so tests can
 * check that every path (including errors) releases what it made. Incremented right after a successful
 * create call, decremented right after the release call.
 */
final class ClLive {
    private ClLive() {}

    enum Kind { CONTEXT, QUEUE, PROGRAM, KERNEL, MEM, EVENT }

    private static final Map<Kind, AtomicLong> COUNTS = new EnumMap<>(Kind.class);

    static {
        for (Kind k : Kind.values()) COUNTS.put(k, new AtomicLong());
    }

    static void created(Kind kind) { COUNTS.get(kind).incrementAndGet(); }

    static void released(Kind kind) { COUNTS.get(kind).decrementAndGet(); }

    static long live(Kind kind) { return COUNTS.get(kind).get(); }

    /** All live objects of every kind. */
    static long live() {
        long total = 0;
        for (AtomicLong c : COUNTS.values()) total += c.get();
        return total;
    }

    static String summary() {
        StringBuilder sb = new StringBuilder();
        for (Kind k : Kind.values()) sb.append(sb.isEmpty() ? "" : ", ").append(k.name().toLowerCase()).append('=').append(live(k));
        return sb.toString();
    }
}
