// Host emulation of quantize.cu and convert.cu (QuantizeEmulationTest): the kernels' own source compiled by g++
// and run on the CPU over cases the test writes (arguments exactly as CudaQuantize / CudaConvert pack them, inputs,
// poisoned outputs); the outputs go back for the test to compare with the Java reference. quantize_scales runs as
// one block of QZ_THREADS = 64 OS threads (two warps: 256 threads of barriers cost minutes on a small machine),
// __syncthreads a barrier, __shfl_xor_sync an exchange through a staging array between two barriers (every thread
// of the block calls it in the same order, as block_reduce does). The element kernels have no barriers: they run
// as one thread of one block, whose grid-stride loop covers every element.
//
// Input (little-endian), per case: int kind (0 quantise, 1 convert), then
//   quantise: int entry (0 elems, 1 s4 pairs, 2 b1 bytes), int computeScales, the 11 scalar element-kernel
//             arguments (long count, int mode, int qtype, long div, int mod, int qmin, int qmax, int stochastic,
//             long seed, int rowLength, int rowBytes), the 8 scalar scale-kernel arguments (int sets, long per,
//             long inner, long outerStride, long setStride, int qtype, int symmetric, int qmin, int qmax: 9),
//             int scaleCount, then SRC, DST (poisoned), SCALES, ZERO_POINTS as (long bytes, bytes)
//   convert:  int which (0 f32-f16, 1 f16-f32, 2 f32-bf16, 3 bf16-f32), long count, SRC, DST as above
// Output, per case: DST, SCALES, ZERO_POINTS (quantise) or DST (convert), each as (long bytes, bytes).
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <vector>
#include <thread>
#include <barrier>
#include <functional>
#include <algorithm>
#include "cuda_on_host.h"
#define QZ_THREADS 64
static const int THREADS = QZ_THREADS;
static std::barrier<> blockBarrier(THREADS);
#define __syncthreads() blockBarrier.arrive_and_wait()
using std::rint; using std::floor; using std::fabs;
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline float __double2float_rn(double d) { return (float)d; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
template <class T> T __shfl_xor_sync(unsigned, T v, int offset) {
    static T stage[THREADS];
    stage[threadIdx.x] = v;
    blockBarrier.arrive_and_wait();
    T r = stage[threadIdx.x ^ offset];
    blockBarrier.arrive_and_wait();
    return r;
}
#include "quantize.cu"
#undef GRID_STRIDE
#include "convert.cu"

#include "block_workers.h"
// One block of the kernel on the THREADS workers.
static void launch(const std::function<void()>& kernel) { runBlocks(1, 1, kernel); }

// A barrier-free kernel as one thread of one block, on this thread.
static void single() { blockDim.x = 1; gridDim.x = 1; blockIdx.x = 0; threadIdx.x = 0; }

static FILE* in;
static FILE* out;
static bool readBytes(void* p, size_t n) { return fread(p, 1, n, in) == n; }
static int readInt() { int v; if (!readBytes(&v, 4)) { fprintf(stderr, "truncated input\n"); exit(2); } return v; }
static long long readLong() { long long v; if (!readBytes(&v, 8)) { fprintf(stderr, "truncated input\n"); exit(2); } return v; }
static std::vector<unsigned char> readArray() {
    std::vector<unsigned char> a(readLong());
    if (!a.empty() && !readBytes(a.data(), a.size())) { fprintf(stderr, "truncated input\n"); exit(2); }
    return a;
}
static void writeArray(const std::vector<unsigned char>& a) {
    long long n = a.size();
    fwrite(&n, 8, 1, out);
    fwrite(a.data(), 1, a.size(), out);
}

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: quantize_emu IN OUT\n"); return 2; }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out) { fprintf(stderr, "cannot open files\n"); return 2; }
    int cases = 0, kind;
    while (fread(&kind, 4, 1, in) == 1) {
        if (kind == 0) {
            int entry = readInt(), compute = readInt();
            long long count = readLong(); int mode = readInt(), qtype = readInt(); long long div = readLong();
            int mod = readInt(), qmin = readInt(), qmax = readInt(), stochastic = readInt(); long long seed = readLong();
            int rowLength = readInt(), rowBytes = readInt();
            int sets = readInt(); long long per = readLong(), inner = readLong(), outerStride = readLong(), setStride = readLong();
            int sqtype = readInt(), symmetric = readInt(), sqmin = readInt(), sqmax = readInt();
            readInt();   // scaleCount (the arrays carry their sizes)
            std::vector<unsigned char> src = readArray(), dst = readArray(), scales = readArray(), zeros = readArray();
            const int* zp = symmetric ? nullptr : (const int*)zeros.data();
            if (compute)
                launch([&] { quantize_scales((const float*)src.data(), (float*)scales.data(), (int*)zeros.data(), sets, per, inner,
                                             outerStride, setStride, sqtype, symmetric, sqmin, sqmax); });
            auto k = entry == 0 ? quantize_elems : entry == 1 ? quantize_s4_pairs : quantize_b1_bytes;
            single();
            k(src.data(), dst.data(), (const float*)scales.data(), zp, count, mode, qtype, div, mod, qmin, qmax, stochastic, seed,
              rowLength, rowBytes);
            writeArray(dst); writeArray(scales); writeArray(zeros);
        } else {
            int which = readInt(); long long count = readLong();
            std::vector<unsigned char> src = readArray(), dst = readArray();
            single();
            switch (which) {
                case 0: convert_f32_f16((const unsigned*)src.data(), (unsigned short*)dst.data(), count); break;
                case 1: convert_f16_f32((const unsigned short*)src.data(), (unsigned*)dst.data(), count); break;
                case 2: convert_f32_bf16((const unsigned*)src.data(), (unsigned short*)dst.data(), count); break;
                default: convert_bf16_f32((const unsigned short*)src.data(), (unsigned*)dst.data(), count); break;
            }
            writeArray(dst);
        }
        cases++;
    }
    stopWorkers();
    fclose(out);
    printf("CASES %d\n", cases);
    return 0;
}
