package dev.kiln.cpu;

/** Parity with 512-bit vectors forced (skipped where the hardware is narrower). */
class CpuParity512Test extends ForcedParityTest {
    @Override int bits() { return 512; }
}
