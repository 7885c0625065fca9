package dev.kiln.cpu.sparse;

/** {@link SparseParityTest} with 256-bit vectors forced. */
class SparseParity256Test extends SparseParityTest {
    @Override int bits() { return 256; }
}
