package dev.kiln.cpu.quant;

/** {@link QuantParityTest} with 128-bit vectors forced (skipped where the hardware is narrower). */
class QuantParity128Test extends QuantParityTest {
    @Override int bits() { return 128; }
}
