package dev.kiln.cpu.quant;

/** {@link QuantParityTest} with 256-bit vectors forced (skipped where the hardware is narrower). */
class QuantParity256Test extends QuantParityTest {
    @Override int bits() { return 256; }
}
