package dev.kiln.cpu;

/** Parity at the hardware width on two threads. */
class CpuParity2ThreadsTest extends ForcedParityTest {
    @Override int bits() { return -1; }

    @Override int threads() { return 2; }
}
