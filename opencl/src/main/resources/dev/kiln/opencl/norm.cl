// Batch, layer and RMS normalisation, f32. Each statistic covers a set of `per` elements; element e of set
// st lives at (e / inner) * outerStride + st * setStride + e % inner:
//   BATCH (set = channel):  inner = spatial, setStride = spatial, outerStride = c * spatial, per = n * spatial
//   LAYER, RMS (set = row): inner = c, setStride = c, outerStride = 0, per = c
// and its gamma/beta index is st for BATCH (channelIsSet) and e otherwise.
// Training forward and backward run one work-group of NORM_WG work-items per set: each work-item sums a
// strided slice, then a fixed-shape tree in local memory combines the partial sums, so the result does
// not depend on scheduling (deterministic). Mean and variance are two passes (no E[x^2] - E[x]^2
// cancellation). Formulas as in the reference (RefNorm): rstd = 1/sqrt(var + eps), y = (x - mean) rstd gamma
// + beta; backward dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma (RMS: no mean(g)).

#define NORM_WG 128

inline float norm_wg_sum(float v, __local float* scratch) {
    const int lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = NORM_WG / 2; span > 0; span >>= 1) {
        if (lid < span) scratch[lid] += scratch[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE); // scratch is reused by the next sum
    return total;
}

#define NORM_SET_ARGS int per, int inner, long outerStride, long setStride, int channelIsSet
#define NORM_AT(st, e) (((long) (e) / inner) * outerStride + (long) (st) * setStride + (e) % inner)
#define NORM_CH(st, e) (channelIsSet ? (st) : (e))

__kernel __attribute__((reqd_work_group_size(NORM_WG, 1, 1)))
void norm_fwd_train(__global const float* x, __global const float* gamma, __global const float* beta, __global float* y,
                    __global float* mean, __global float* rstd, NORM_SET_ARGS, int rms, float eps) {
    __local float scratch[NORM_WG];
    const int st = get_group_id(0), lid = get_local_id(0);
    float part = 0.0f;
    if (!rms) for (int e = lid; e < per; e += NORM_WG) part += x[NORM_AT(st, e)];
    const float mu = rms ? 0.0f : norm_wg_sum(part, scratch) / per;
    part = 0.0f;
    for (int e = lid; e < per; e += NORM_WG) { const float c = x[NORM_AT(st, e)] - mu; part = fma(c, c, part); }
    const float rs = 1.0f / sqrt(norm_wg_sum(part, scratch) / per + eps);
    if (lid == 0) {
        if (!rms) mean[st] = mu;
        rstd[st] = rs;
    }
    for (int e = lid; e < per; e += NORM_WG) {
        const long at = NORM_AT(st, e);
        const int ch = NORM_CH(st, e);
        y[at] = (x[at] - mu) * rs * gamma[ch] + (rms ? 0.0f : beta[ch]);
    }
}

/** Batch-norm inference: elementwise with the running statistics; channel = (i / spatial) % c. */
__kernel void norm_inference(__global const float* x, __global const float* gamma, __global const float* beta,
                             __global const float* mean, __global const float* var, __global float* y,
                             long count, int c, int spatial, float eps) {
    const long i = get_global_id(0);
    if (i >= count) return;
    const int ch = (i / spatial) % c;
    y[i] = (x[i] - mean[ch]) * (1.0f / sqrt(var[ch] + eps)) * gamma[ch] + beta[ch];
}

/**
 * Backward per set: dx, and for BATCH also dgamma/dbeta of the set's channel (paramsHere); layer and RMS
 * norm get those from norm_param_grad, as their parameters span the sets.
 */
__kernel __attribute__((reqd_work_group_size(NORM_WG, 1, 1)))
void norm_bwd(__global const float* x, __global const float* gamma, __global const float* mean, __global const float* rstd,
              __global const float* dy, __global float* dx, __global float* dgamma, __global float* dbeta,
              NORM_SET_ARGS, int rms, int paramsHere) {
    __local float scratch[NORM_WG];
    const int st = get_group_id(0), lid = get_local_id(0);
    const float mu = rms ? 0.0f : mean[st], rs = rstd[st];
    float sg = 0.0f, sgx = 0.0f, sdx = 0.0f, sd = 0.0f;
    for (int e = lid; e < per; e += NORM_WG) {
        const long at = NORM_AT(st, e);
        const float xhat = (x[at] - mu) * rs, d = dy[at], g = d * gamma[NORM_CH(st, e)];
        sg += g;
        sgx = fma(g, xhat, sgx);
        sdx = fma(d, xhat, sdx);
        sd += d;
    }
    const float meanG = rms ? 0.0f : norm_wg_sum(sg, scratch) / per;
    const float meanGX = norm_wg_sum(sgx, scratch) / per;
    if (paramsHere) {
        const float dg = norm_wg_sum(sdx, scratch), db = norm_wg_sum(sd, scratch);
        if (lid == 0) {
            dgamma[st] = dg;
            if (!rms) dbeta[st] = db;
        }
    }
    for (int e = lid; e < per; e += NORM_WG) {
        const long at = NORM_AT(st, e);
        const float xhat = (x[at] - mu) * rs, g = dy[at] * gamma[NORM_CH(st, e)];
        dx[at] = rs * (g - meanG - xhat * meanGX);
    }
}

/** Layer/RMS parameter gradients: one work-item per channel, summing over the n rows in order. */
__kernel void norm_param_grad(__global const float* x, __global const float* mean, __global const float* rstd,
                              __global const float* dy, __global float* dgamma, __global float* dbeta, int n, int c, int rms) {
    const int ch = get_global_id(0);
    if (ch >= c) return;
    float dg = 0.0f, db = 0.0f;
    for (int b = 0; b < n; b++) {
        const long at = (long) b * c + ch;
        const float xhat = (x[at] - (rms ? 0.0f : mean[b])) * rstd[b];
        dg = fma(dy[at], xhat, dg);
        db += dy[at];
    }
    dgamma[ch] = dg;
    if (!rms) dbeta[ch] = db;
}
