package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;

/** {@link ConvParityTest} with 256-bit vectors forced (skipped where the hardware is narrower). */
class ConvParity256Test extends ConvParityTest {
    @Override Width width() { return forced(256); }
}
