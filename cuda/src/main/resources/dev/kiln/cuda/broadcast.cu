// Binary ops with numpy broadcasting, f32 (host side: CudaBroadcast.java). The host first drops size-1
// result dimensions and merges neighbours that both operands step over alike, leaving at most BC_RANK
// dimensions, padded on the left with size 1. Each operand is read through element strides that are 0
// along the dimensions it is broadcast along.
//   broadcast_fwd: one thread per output element.
//   broadcast_bwd: one thread per element of the operand whose gradient is wanted (which: 0 = src,
//                  1 = src2), summing dy * d op / d operand over the output elements that read it, in
//                  row-major order of its broadcast dimensions. Every gradient element has one owner, so
//                  nothing is atomic and the result is the same on every run.
// Ops by BinaryOp ordinal: ADD SUB MUL DIV MAX MIN. max/min propagate NaN like Java's Math.max/min and give
// a tie's gradient to src, as elementwise.cu and the reference do. Grid-stride loops: any grid covers any count.

#define BC_RANK 6
#define BC_PARAMS int d0, int d1, int d2, int d3, int d4, int d5,                                   \
                  long long a0, long long a1, long long a2, long long a3, long long a4, long long a5, \
                  long long b0, long long b1, long long b2, long long b3, long long b4, long long b5
#define BC_LOAD                                                        \
    const int dims[BC_RANK] = {d0, d1, d2, d3, d4, d5};                \
    const long long sa[BC_RANK] = {a0, a1, a2, a3, a4, a5};            \
    const long long sb[BC_RANK] = {b0, b1, b2, b3, b4, b5};

__device__ __forceinline__ float bc_jmax(float a, float b) { return a != a ? a : (b != b ? b : fmaxf(a, b)); }
__device__ __forceinline__ float bc_jmin(float a, float b) { return a != a ? a : (b != b ? b : fminf(a, b)); }

__device__ __forceinline__ float bc_fwd(int op, float x, float y) {
    switch (op) {
        case 0: return x + y;
        case 1: return x - y;
        case 2: return x * y;
        case 3: return x / y;
        case 4: return bc_jmax(x, y);
        default: return bc_jmin(x, y);
    }
}

// dy * d op / d x (which == 0) or dy * d op / d y (which == 1).
__device__ __forceinline__ float bc_grad(int op, int which, float x, float y, float dy) {
    switch (op) {
        case 0: return dy;
        case 1: return which == 0 ? dy : -dy;
        case 2: return which == 0 ? dy * y : dy * x;
        case 3: return which == 0 ? dy / y : -dy * x / (y * y);
        case 4: return (x >= y) == (which == 0) ? dy : 0.f;
        default: return (x <= y) == (which == 0) ? dy : 0.f;
    }
}

extern "C" __global__ void broadcast_fwd(const float* __restrict__ src, const float* __restrict__ src2,
                                         float* __restrict__ dst, long long count, int op, BC_PARAMS) {
    BC_LOAD
    for (long long out = (long long)blockIdx.x * blockDim.x + threadIdx.x; out < count;
         out += (long long)gridDim.x * blockDim.x) {
        long long rest = out, ia = 0, ib = 0;
        #pragma unroll
        for (int j = BC_RANK - 1; j >= 0; j--) {
            const long long c = rest % dims[j];
            rest /= dims[j];
            ia += c * sa[j];
            ib += c * sb[j];
        }
        dst[out] = bc_fwd(op, src[ia], src2[ib]);
    }
}

extern "C" __global__ void broadcast_bwd(const float* __restrict__ src, const float* __restrict__ src2,
                                         const float* __restrict__ dy, float* __restrict__ diff,
                                         long long count, int op, int which, BC_PARAMS) {
    BC_LOAD
    for (long long self = (long long)blockIdx.x * blockDim.x + threadIdx.x; self < count;
         self += (long long)gridDim.x * blockDim.x) {
        // The target's own coordinates come from its flat index, over the dimensions it is not broadcast
        // along (its layout is row-major over exactly those); the rest are summed over below.
        long long coord[BC_RANK];
        long long rest = self, reduced = 1;
        #pragma unroll
        for (int j = BC_RANK - 1; j >= 0; j--) {
            const long long st = which == 0 ? sa[j] : sb[j];
            if (st != 0 || dims[j] == 1) { coord[j] = rest % dims[j]; rest /= dims[j]; }
            else { coord[j] = 0; reduced *= dims[j]; }
        }
        float sum = 0.f;
        for (long long r = 0; r < reduced; r++) {
            long long left = r, out = 0, ia = 0, ib = 0, step = 1;
            #pragma unroll
            for (int j = BC_RANK - 1; j >= 0; j--) {
                const long long st = which == 0 ? sa[j] : sb[j];
                long long c = coord[j];
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
}
