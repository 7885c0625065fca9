package dev.kiln.cpu.sparse;

/** {@link SparseParityTest} with vectors off: the vector kernel declines and the reference runs. */
class SparseParityScalarTest extends SparseParityTest {
    @Override int bits() { return 0; }
}
