// Elementwise one-input ops over count f32 elements, one kernel per op and pass:
// unary_<op>_fwd: dst[i] = f(src[i]); unary_<op>_bwd: diff_src[i] = diff_dst[i] * f'(src[i]).
// Needs activation.cl prepended. Full-precision built-ins (no native_ or fast-math), as the reference is exact.

#define UNARY(NAME, FWD, GRAD) \
__kernel void unary_##NAME##_fwd(__global const float* src, __global float* dst, long count) { \
    const long i = get_global_id(0); \
    if (i < count) { const float x = src[i]; dst[i] = (FWD); } \
} \
__kernel void unary_##NAME##_bwd(__global const float* src, __global const float* diff_dst, __global float* diff_src, long count) { \
    const long i = get_global_id(0); \
    if (i < count) { const float x = src[i]; diff_src[i] = diff_dst[i] * (GRAD); } \
}

UNARY(relu,    x > 0.0f ? x : 0.0f,    x > 0.0f ? 1.0f : 0.0f)
UNARY(gelu,    kiln_gelu(x),           kiln_gelu_grad(x))
UNARY(silu,    x * kiln_sigmoid(x),    kiln_sigmoid(x) * (1.0f + x * (1.0f - kiln_sigmoid(x))))
UNARY(sigmoid, kiln_sigmoid(x),        kiln_sigmoid(x) * (1.0f - kiln_sigmoid(x)))
UNARY(tanh,    tanh(x),                1.0f - tanh(x) * tanh(x))
UNARY(exp,     exp(x),                 exp(x))
UNARY(log,     log(x),                 1.0f / x)
UNARY(neg,     -x,                     -1.0f)
UNARY(abs,     fabs(x),                x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f))
UNARY(sqrt,    sqrt(x),                0.5f / sqrt(x))
UNARY(square,  x * x,                  2.0f * x)
