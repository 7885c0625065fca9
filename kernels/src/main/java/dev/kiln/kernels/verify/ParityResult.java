package dev.kiln.kernels.verify;

import dev.kiln.kernels.desc.OpDesc;

/**
 * The outcome of one parity check. {@code worstError} is the absolute error of the element that is worst
 * relative to its allowed error (0 when every element matched exactly, infinite for NaN or an unwritten
 * element, NaN when nothing was compared). {@code message} is empty when passed; on failure it names the op,
 * shape, device, implementation, seed and the worst element (or says "mistrusted"); when unsupported it is
 * the device's reason.
 */
public record ParityResult(OpDesc desc, String device, String implementation, long seed, Status status, double worstError,
                           String message) {
    public enum Status { PASSED, FAILED, UNSUPPORTED }

    public boolean passed() { return status == Status.PASSED; }

    /** The status and, for failures (whose message already names the case), the message alone. */
    @Override public String toString() {
        if (status == Status.FAILED) return "FAILED " + message;
        return status + " " + desc.opName() + " " + desc.shape() + " on " + device + " with " + implementation + ", seed " + seed
                + (message.isEmpty() ? "" : ": " + message);
    }
}
