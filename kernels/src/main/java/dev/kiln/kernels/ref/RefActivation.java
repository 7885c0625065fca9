package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Activation;

/** Activation functions in double, shared by the GEMM epilogue and elementwise references. */
public final class RefActivation {
    private RefActivation() {}

    private static final double GELU_C = Math.sqrt(2 / Math.PI);

    public static double apply(Activation act, double x) {
        return switch (act) {
            case NONE -> x;
            case RELU -> x > 0 ? x : 0;
            case GELU -> gelu(x);
            case SILU -> x / (1 + Math.exp(-x));
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
        };
    }

    /** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    public static double gelu(double x) { return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x))); }

    /** d gelu / dx for the tanh approximation. */
    public static double geluGrad(double x) {
        double u = GELU_C * (x + 0.044715 * x * x * x);
        double t = Math.tanh(u);
        double du = GELU_C * (1 + 3 * 0.044715 * x * x);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
    }
}
