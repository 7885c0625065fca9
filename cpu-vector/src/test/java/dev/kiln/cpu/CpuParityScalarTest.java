package dev.kiln.cpu;

/** Parity with vectors off (kiln.cpu.vectorBits=0): the reference kernels run. */
class CpuParityScalarTest extends ForcedParityTest {
    @Override int bits() { return 0; }
}
