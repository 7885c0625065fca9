package dev.kiln.kernels.spi;

/** A capability answer: yes, or no with a reason a person can act on. */
public record Support(boolean ok, String reason) {
    public static final Support YES = new Support(true, "");

    public static Support no(String reason) { return new Support(false, reason); }
}
