// Softmax / log-softmax along the middle axis of outer x length x inner f32, one work-item per (o, i)
// line, computed stably (the maximum is subtracted first); sums are compensated (Kahan) in f32 so long
// rows stay close to the double-precision reference.
// Backward: softmax diff_src = y * (dy - sum(dy * y)); log-softmax diff_src = dy - exp(y) * sum(dy).

__kernel void softmax_fwd(__global const float* src, __global float* dst, int outer, int length, int inner, int logMode) {
    const long line = get_global_id(0);
    if (line >= (long) outer * inner) return;
    const long base = (line / inner) * (long) length * inner + line % inner;
    float mx = -INFINITY;
    for (int l = 0; l < length; l++) mx = fmax(mx, src[base + (long) l * inner]);
    float sum = 0.0f, comp = 0.0f;
    for (int l = 0; l < length; l++) {
        const float e = exp(src[base + (long) l * inner] - mx);
        const float y = e - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    if (logMode) {
        const float lse = log(sum);
        for (int l = 0; l < length; l++) dst[base + (long) l * inner] = src[base + (long) l * inner] - mx - lse;
    } else {
        const float inv = 1.0f / sum;
        for (int l = 0; l < length; l++) dst[base + (long) l * inner] = exp(src[base + (long) l * inner] - mx) * inv;
    }
}

__kernel void softmax_bwd(__global const float* dst, __global const float* diff_dst, __global float* diff_src,
                          int outer, int length, int inner, int logMode) {
    const long line = get_global_id(0);
    if (line >= (long) outer * inner) return;
    const long base = (line / inner) * (long) length * inner + line % inner;
    float sum = 0.0f, comp = 0.0f;
    for (int l = 0; l < length; l++) {
        const long at = base + (long) l * inner;
        const float y = (logMode ? diff_dst[at] : diff_dst[at] * dst[at]) - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    for (int l = 0; l < length; l++) {
        const long at = base + (long) l * inner;
        diff_src[at] = logMode ? diff_dst[at] - exp(dst[at]) * sum : dst[at] * (diff_dst[at] - sum);
    }
}
