package dev.kiln.cpu;

/** Parity with 256-bit vectors forced. */
class CpuParity256Test extends ForcedParityTest {
    @Override int bits() { return 256; }
}
