// Activations shared by the GEMM epilogue and the elementwise kernels; prepended to their sources.
// Codes follow dev.kiln.kernels.desc.Activation's ordinal: 0 none, 1 relu, 2 gelu, 3 silu, 4 sigmoid, 5 tanh.
// GELU is the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) on every backend.

#define KILN_GELU_C 0.7978845608028654f

inline float kiln_sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

inline float kiln_gelu(float x) { return 0.5f * x * (1.0f + tanh(KILN_GELU_C * (x + 0.044715f * x * x * x))); }

inline float kiln_gelu_grad(float x) {
    float t = tanh(KILN_GELU_C * (x + 0.044715f * x * x * x));
    float du = KILN_GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

inline float kiln_activate(int act, float x) {
    switch (act) {
        case 1: return x > 0.0f ? x : 0.0f;
        case 2: return kiln_gelu(x);
        case 3: return x * kiln_sigmoid(x);
        case 4: return kiln_sigmoid(x);
        case 5: return tanh(x);
        default: return x;
    }
}
