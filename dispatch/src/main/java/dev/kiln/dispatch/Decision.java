package dev.kiln.dispatch;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;

import java.util.List;

/**
 * Where one op runs and why: the chosen device and implementation, every candidate that was passed over
 * with its reason ({@code "backend/impl: reason"}, {@code "cuda: unavailable: ..."}), and the copies the
 * call makes ({@code "A host→opencl:pocl 4096 B"}). When no device supports the op, {@link #device()} is
 * the host reference device (backend {@code host}, implementation {@code ref}) and {@link #isFallback()}
 * is true.
 */
public record Decision(OpDesc desc, Device device, String implementation, List<String> rejected, List<String> copies) {
    public Decision {
        rejected = List.copyOf(rejected);
        copies = List.copyOf(copies);
    }

    /** True when the op runs on the host reference kernels because no device supports it. */
    public boolean isFallback() { return device instanceof HostFallback; }

    /**
     * The line {@code KILN_VERBOSE=dispatch} prints for this decision:
     * {@code dispatch gemm f32 m=.. n=.. k=.. NN -> cpu/vector-gemm (rejected: ...) copies: none}.
     */
    public String summary() {
        StringBuilder sb = new StringBuilder("dispatch ").append(desc.opName()).append(' ').append(desc.dtype().lower())
                .append(' ').append(desc.shape()).append(" -> ").append(device.backend()).append('/').append(implementation);
        if (isFallback()) sb.append(" (reference fallback: no device supports ").append(desc.opName()).append(')');
        if (!rejected.isEmpty()) sb.append(" (rejected: ").append(String.join(", ", rejected)).append(')');
        sb.append(" copies: ").append(copies.isEmpty() ? "none" : String.join(", ", copies));
        return sb.toString();
    }

    @Override public String toString() { return summary(); }
}
