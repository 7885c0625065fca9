package dev.kiln.nn.quant;

import java.util.Arrays;
import java.util.Locale;

/**
 * How a model is quantised:
 * <ul>
 * <li>{@code INT8}: every Linear and Conv2d; weights s8 per output channel, inputs per tensor (u8 when
 *     the observed input is never negative, as after a ReLU, else s8); inference on the exact s8/u8 x s8
 *     GEMM.</li>
 * <li>{@code INT4}: weights s4 in groups along the fan-in (32, or the largest even power of two below that
 *     divides the fan-in), inputs f32; layers whose fan-in has no such group (the cnn's first
 *     convolution, 25 inputs per channel) stay f32.</li>
 * <li>{@code BINARY}: weights {@code alpha_j sign(w)} per output channel and inputs
 *     {@code beta sign(x - tau)} per tensor, trained with the ReSTE estimator; the first and last layer
 *     stay f32; inference on the XNOR-popcount GEMM.</li>
 * </ul>
 */
public enum QuantMode {
    INT8, INT4, BINARY;

    public String lower() { return name().toLowerCase(Locale.ROOT); }

    /** The mode named {@code name} ({@code int8}, {@code int4}, {@code binary}); anything else is a clear error. */
    public static QuantMode parse(String name) {
        for (QuantMode m : values()) if (m.lower().equals(name)) return m;
        throw new IllegalArgumentException("quantisation mode " + name + " is not one of "
                + Arrays.stream(values()).map(QuantMode::lower).toList());
    }

    /** Group size for s4 weights with fan-in {@code k}: 32 if it divides k, else the largest even power of two below it that does; 0 if none. */
    public static int groupSize(int k) {
        for (int g = 32; g >= 2; g /= 2) if (k % g == 0) return g;
        return 0;
    }
}
