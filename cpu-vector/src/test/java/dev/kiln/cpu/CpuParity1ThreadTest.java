package dev.kiln.cpu;

/** Parity at the hardware width on one thread. */
class CpuParity1ThreadTest extends ForcedParityTest {
    @Override int bits() { return -1; }

    @Override int threads() { return 1; }
}
