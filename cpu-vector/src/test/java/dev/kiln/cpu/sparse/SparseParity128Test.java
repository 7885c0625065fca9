package dev.kiln.cpu.sparse;

/** {@link SparseParityTest} with 128-bit vectors forced (skipped where the hardware is narrower). */
class SparseParity128Test extends SparseParityTest {
    @Override int bits() { return 128; }
}
