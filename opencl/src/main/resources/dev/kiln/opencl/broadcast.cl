// Binary ops with numpy broadcasting, f32, after the host has dropped size-1 dimensions and merged
// neighbours, leaving at most BC_RANK dimensions (padded on the left with size 1). The operands are read
// through element strides that are zero along the dimensions they are broadcast along.
// Forward: one work-item per output element. Backward: one work-item per element of the operand whose
// gradient is wanted (`which`: 0 for src, 1 for src2), summing dy * d op / d operand in f32 over the
// output elements that read it (its zero-stride dimensions), in row-major order. Each gradient element has
// one owner, so nothing is atomic and the result is deterministic. Ops and ties as in binary.cl.

#define BC_RANK 6
#define BC_ARGS int d0, int d1, int d2, int d3, int d4, int d5, \
                long a0, long a1, long a2, long a3, long a4, long a5, \
                long b0, long b1, long b2, long b3, long b4, long b5
#define BC_LOAD \
    const int dims[BC_RANK] = {d0, d1, d2, d3, d4, d5}; \
    const long sa[BC_RANK] = {a0, a1, a2, a3, a4, a5}; \
    const long sb[BC_RANK] = {b0, b1, b2, b3, b4, b5};

inline float bc_fwd(int op, float x, float y) {
    switch (op) {
        case 0: return x + y;
        case 1: return x - y;
        case 2: return x * y;
        case 3: return x / y;
        case 4: return x >= y ? x : y;
        default: return x <= y ? x : y;
    }
}

/** d op / d x (which == 0) or d op / d y (which == 1), times dy. */
inline float bc_grad(int op, int which, float x, float y, float dy) {
    switch (op) {
        case 0: return dy;
        case 1: return which == 0 ? dy : -dy;
        case 2: return which == 0 ? dy * y : dy * x;
        case 3: return which == 0 ? dy / y : -dy * x / (y * y);
        case 4: return (x >= y) == (which == 0) ? dy : 0.0f;
        default: return (x <= y) == (which == 0) ? dy : 0.0f;
    }
}

__kernel void broadcast_fwd(__global const float* src, __global const float* src2, __global float* dst, long count,
                            int op, BC_ARGS) {
    const long out = get_global_id(0);
    if (out >= count) return;
    BC_LOAD
    long rest = out, ia = 0, ib = 0;
    for (int j = BC_RANK - 1; j >= 0; j--) {
        const long c = rest % dims[j];
        rest /= dims[j];
        ia += c * sa[j];
        ib += c * sb[j];
    }
    dst[out] = bc_fwd(op, src[ia], src2[ib]);
}

__kernel void broadcast_bwd(__global const float* src, __global const float* src2, __global const float* dy,
                            __global float* diff, long count, int op, int which, BC_ARGS) {
    const long self = get_global_id(0);
    if (self >= count) return;
    BC_LOAD
    // The target's own coordinates come from its flat index, over the dimensions it is not broadcast along.
    int coord[BC_RANK];
    long rest = self, reduced = 1;
    for (int j = BC_RANK - 1; j >= 0; j--) {
        const long st = which == 0 ? sa[j] : sb[j];
        if (st != 0 || dims[j] == 1) { coord[j] = rest % dims[j]; rest /= dims[j]; }
        else { coord[j] = 0; reduced *= dims[j]; }
    }
    float sum = 0.0f;
    for (long r = 0; r < reduced; r++) {
        long left = r, out = 0, ia = 0, ib = 0, step = 1;
        for (int j = BC_RANK - 1; j >= 0; j--) {
            const long st = which == 0 ? sa[j] : sb[j];
            long c = coord[j];
            if (st == 0 && dims[j] != 1) { c = left % dims[j]; left /= dims[j]; }
            out += c * step;
            step *= dims[j];
            ia += c * sa[j];
            ib += c * sb[j];
        }
        sum += bc_grad(op, which, src[ia], src2[ib], dy[out]);
    }
    diff[self] = sum;
}
