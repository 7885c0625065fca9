package dev.kiln.cpu;

import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.testing.ParityTestBase;

/**
 * The shared parity suite on the CPU device as it starts by default (hardware width, default threads),
 * over every op family: the vector kernels where they apply, the reference kernels elsewhere, so this
 * also shows that every op runs on the CPU device.
 */
class CpuParityTest extends ParityTestBase {
    @Override protected Device openDevice() { return new CpuDevice(); }
}
