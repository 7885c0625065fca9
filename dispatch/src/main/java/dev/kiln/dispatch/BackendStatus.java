package dev.kiln.dispatch;

import dev.kiln.kernels.spi.Device;

import java.util.List;

/**
 * What dispatch found for one backend provider: whether it could be opened here, the devices it opened
 * (empty when unavailable) and a one-line reason — the probe's detail when available, why not when not.
 */
public record BackendStatus(String name, boolean available, List<Device> devices, String reason) {
    public BackendStatus {
        if (name == null) throw new IllegalArgumentException("backend status: name is null");
        devices = List.copyOf(devices == null ? List.of() : devices);
        reason = reason == null ? "" : reason;
    }

    /** An unavailable backend; the reason is cut to one line of bounded length. */
    static BackendStatus unavailable(String name, String reason) {
        return new BackendStatus(name, false, List.of(), Discovery.firstLine(reason));
    }
}
