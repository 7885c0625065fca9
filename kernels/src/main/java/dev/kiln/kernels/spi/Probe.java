package dev.kiln.kernels.spi;

/** Whether a backend can be opened on this machine, and if not, why (one line, no stack trace). */
public record Probe(boolean available, String reason) {
    public static Probe ok(String detail) { return new Probe(true, detail); }

    public static Probe unavailable(String reason) { return new Probe(false, reason); }
}
