package dev.kiln.cpu;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Stream;

/** CPU streams are synchronous: a plan's execute returns when its outputs are written. */
final class CpuStream implements Stream {
    private final Device device;

    CpuStream(Device device) { this.device = device; }

    @Override public Device device() { return device; }

    /** Nothing is ever pending. */
    @Override public void synchronize() {}

    /** Nothing to release; closing twice is harmless. */
    @Override public void close() {}
}
