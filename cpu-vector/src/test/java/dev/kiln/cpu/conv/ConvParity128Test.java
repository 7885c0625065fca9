package dev.kiln.cpu.conv;

import dev.kiln.cpu.Width;

/** {@link ConvParityTest} with 128-bit vectors forced (skipped where the hardware is narrower). */
class ConvParity128Test extends ConvParityTest {
    @Override Width width() { return forced(128); }
}
