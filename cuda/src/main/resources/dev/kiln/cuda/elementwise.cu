// Elementwise f32 kernels for the Kiln CUDA backend (host side: CudaElementwise.java).
//
// Unary:  <op>_fwd  y = op(x);   <op>_bwd  dx = dy * op'(x), x the forward input.
// Binary (equal shapes only; the host rejects broadcasting):
//         <op>_fwd  y = op(a, b);  <op>_bwd  da, db from dy, a and b.
// Conventions follow the reference (dev.kiln.kernels.ref.RefElementwise): GELU is the tanh
// approximation; relu'(0) = 0, abs'(0) = 0; max/min propagate NaN like Java's Math.max/min; for max
// (min) the gradient goes to a when a >= b (a <= b), so ties go to a. Math is f32 with the accurate
// library functions (no fast-math), which keeps every op within a few ulp of the double reference.
//
// Every operand is a whole device allocation (256-byte aligned), so the body runs on float4 and a
// scalar tail picks up the last n % 4 elements. Grid-stride loops: any grid size covers any n.

#define GELU_C 0.7978845608028654f

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float gelu_fwd(float x) {
    return 0.5f * x * (1.f + tanhf(GELU_C * (x + 0.044715f * x * x * x)));
}

__device__ __forceinline__ float gelu_grad(float x) {
    float t = tanhf(GELU_C * (x + 0.044715f * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * GELU_C * (1.f + 3.f * 0.044715f * x * x);
}

// Java's Math.max / Math.min: NaN if either input is NaN.
__device__ __forceinline__ float jmax(float a, float b) { return a != a ? a : (b != b ? b : fmaxf(a, b)); }
__device__ __forceinline__ float jmin(float a, float b) { return a != a ? a : (b != b ? b : fminf(a, b)); }

__device__ __forceinline__ long long first_index() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long grid_stride() { return (long long)gridDim.x * blockDim.x; }

// y[i] = f(x[i]) for i < n.
template <class F>
__device__ __forceinline__ void map1(const float* __restrict__ x, float* __restrict__ y, long long n, F f) {
    const long long n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (long long i = first_index(); i < n4; i += grid_stride()) {
        float4 v = x4[i];
        y4[i] = make_float4(f(v.x), f(v.y), f(v.z), f(v.w));
    }
    for (long long i = (n4 << 2) + first_index(); i < n; i += grid_stride()) y[i] = f(x[i]);
}

// z[i] = f(x[i], y[i]) for i < n.
template <class F>
__device__ __forceinline__ void map2(const float* __restrict__ x, const float* __restrict__ y,
                                     float* __restrict__ z, long long n, F f) {
    const long long n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* y4 = reinterpret_cast<const float4*>(y);
    float4* z4 = reinterpret_cast<float4*>(z);
    for (long long i = first_index(); i < n4; i += grid_stride()) {
        float4 a = x4[i], b = y4[i];
        z4[i] = make_float4(f(a.x, b.x), f(a.y, b.y), f(a.z, b.z), f(a.w, b.w));
    }
    for (long long i = (n4 << 2) + first_index(); i < n; i += grid_stride()) z[i] = f(x[i], y[i]);
}

// FWD is an expression in x; DERIV an expression in x for op'(x).
#define UNARY(name, FWD, DERIV)                                                                           \
    extern "C" __global__ void name##_fwd(const float* __restrict__ src, float* __restrict__ dst,        \
                                          long long n) {                                                 \
        map1(src, dst, n, [](float x) { return (FWD); });                                     \
    }                                                                                                    \
    extern "C" __global__ void name##_bwd(const float* __restrict__ src, const float* __restrict__ diff_dst, \
                                          float* __restrict__ diff_src, long long n) {                   \
        map2(src, diff_dst, diff_src, n, [](float x, float dy) { return dy * (DERIV); });     \
    }

UNARY(relu, x > 0.f ? x : 0.f, x > 0.f ? 1.f : 0.f)
UNARY(gelu, gelu_fwd(x), gelu_grad(x))
UNARY(silu, x * sigmoidf(x), sigmoidf(x) * (1.f + x * (1.f - sigmoidf(x))))
UNARY(sigmoid, sigmoidf(x), sigmoidf(x) * (1.f - sigmoidf(x)))
UNARY(tanh, tanhf(x), 1.f - tanhf(x) * tanhf(x))
UNARY(exp, expf(x), expf(x))
UNARY(log, logf(x), 1.f / x)
UNARY(neg, -x, -1.f)
UNARY(abs, fabsf(x), x > 0.f ? 1.f : (x < 0.f ? -1.f : (x == 0.f ? 0.f : x)))
UNARY(sqrt, sqrtf(x), 0.5f / sqrtf(x))
UNARY(square, x * x, 2.f * x)

#define BINARY_FWD(name, EXPR)                                                                            \
    extern "C" __global__ void name##_fwd(const float* __restrict__ src, const float* __restrict__ src2, \
                                          float* __restrict__ dst, long long n) {                        \
        map2(src, src2, dst, n, [](float a, float b) { return (EXPR); });                     \
    }

BINARY_FWD(add, a + b)
BINARY_FWD(sub, a - b)
BINARY_FWD(mul, a * b)
BINARY_FWD(div, a / b)
BINARY_FWD(max, jmax(a, b))
BINARY_FWD(min, jmin(a, b))

// GA and GB are expressions in a, b and the incoming gradient g (lambdas, so unused names do not warn).
#define BINARY_BWD(name, GA, GB)                                                                          \
    extern "C" __global__ void name##_bwd(const float* __restrict__ src, const float* __restrict__ src2, \
                                          const float* __restrict__ diff_dst, float* __restrict__ diff_src, \
                                          float* __restrict__ diff_src2, long long n) {                  \
        auto ga = [](float a, float b, float g) { return (GA); };                                        \
        auto gb = [](float a, float b, float g) { return (GB); };                                        \
        for (long long i = first_index(); i < n; i += grid_stride()) {                                   \
            float a = src[i], b = src2[i], g = diff_dst[i];                                              \
            diff_src[i] = ga(a, b, g);                                                                   \
            diff_src2[i] = gb(a, b, g);                                                                  \
        }                                                                                                \
    }

BINARY_BWD(add, g, g)
BINARY_BWD(sub, g, -g)
BINARY_BWD(mul, g * b, g * a)
BINARY_BWD(div, g / b, -g * a / (b * b))
BINARY_BWD(max, a >= b ? g : 0.f, a >= b ? 0.f : g)
BINARY_BWD(min, a <= b ? g : 0.f, a <= b ? 0.f : g)
