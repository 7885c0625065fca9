package dev.kiln.cpu;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;

import java.util.List;

/**
 * The pure-Java CPU backend, always available (ranked last by dispatch through the device priority).
 * Without a usable Vector API it still opens: its kernels then fall back to the reference ones.
 */
public final class CpuProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override public Probe probe() {
        var s = VectorSupport.status();
        return Probe.ok(s.ok() ? "vector kernels " + VectorSupport.width() + "; " + VectorSupport.selfCheck().detail()
                : "scalar/reference kernels only: " + s.reason());
    }

    @Override public List<Device> open() { return List.of(new CpuDevice()); }
}
