package dev.kiln.cpu.quant;

/** {@link QuantParityTest} at the hardware width on one thread. */
class QuantParity1ThreadTest extends QuantParityTest {
    @Override int threads() { return 1; }
}
