package dev.kiln.cpu.quant;

/** {@link QuantParityTest} at the hardware width on two threads. */
class QuantParity2ThreadsTest extends QuantParityTest {
    @Override int threads() { return 2; }
}
