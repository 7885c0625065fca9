package dev.kiln.cpu.quant;

/** {@link QuantizeParityTest} with 256-bit vectors forced (own JVM). */
class QuantizeParity256Test extends QuantizeParityTest {
    @Override int bits() { return 256; }
}
