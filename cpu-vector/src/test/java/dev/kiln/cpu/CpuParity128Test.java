package dev.kiln.cpu;

/** Parity with 128-bit vectors forced. */
class CpuParity128Test extends ForcedParityTest {
    @Override int bits() { return 128; }
}
