package dev.kiln.cpu.quant;

/** {@link QuantizeParityTest} on one thread (own JVM). */
class QuantizeParity1ThreadTest extends QuantizeParityTest {
    @Override int threads() { return 1; }
}
