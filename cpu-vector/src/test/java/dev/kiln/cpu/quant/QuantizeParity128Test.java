package dev.kiln.cpu.quant;

/** {@link QuantizeParityTest} with 128-bit vectors forced (own JVM). */
class QuantizeParity128Test extends QuantizeParityTest {
    @Override int bits() { return 128; }
}
