// Elementwise two-input ops on operands of equal shape (no broadcasting yet), f32, one kernel per op and pass.
// binary_<op>_fwd: dst = f(a, b). binary_<op>_bwd: diff_a = dy * df/da, diff_b = dy * df/db; for max/min a
// tie sends the gradient to a (SRC), as the reference does.

#define BINARY(NAME, FWD, DA, DB) \
__kernel void binary_##NAME##_fwd(__global const float* src, __global const float* src2, __global float* dst, long count) { \
    const long i = get_global_id(0); \
    if (i < count) { const float x = src[i]; const float y = src2[i]; dst[i] = (FWD); } \
} \
__kernel void binary_##NAME##_bwd(__global const float* src, __global const float* src2, __global const float* diff_dst, \
                                  __global float* diff_src, __global float* diff_src2, long count) { \
    const long i = get_global_id(0); \
    if (i < count) { \
        const float x = src[i]; const float y = src2[i]; const float dy = diff_dst[i]; \
        diff_src[i] = (DA); diff_src2[i] = (DB); \
    } \
}

BINARY(add, x + y,              dy,                      dy)
BINARY(sub, x - y,              dy,                      -dy)
BINARY(mul, x * y,              dy * y,                  dy * x)
BINARY(div, x / y,              dy / y,                  -dy * x / (y * y))
BINARY(max, x >= y ? x : y,     x >= y ? dy : 0.0f,      x >= y ? 0.0f : dy)
BINARY(min, x <= y ? x : y,     x <= y ? dy : 0.0f,      x <= y ? 0.0f : dy)
