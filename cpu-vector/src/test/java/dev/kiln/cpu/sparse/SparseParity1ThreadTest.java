package dev.kiln.cpu.sparse;

/** {@link SparseParityTest} with one thread. */
class SparseParity1ThreadTest extends SparseParityTest {
    @Override int threads() { return 1; }
}
