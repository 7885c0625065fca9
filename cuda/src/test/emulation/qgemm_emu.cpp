// Host emulation of qgemm.cu (QGemmEmulationTest): the kernels' own source compiled by g++ and run on the CPU against
// plain loops written from RefQGemm. Every CUDA thread is an OS thread, __syncthreads a block barrier, __shared__ a
// static; the two inline-asm functions are replaced: word_mac's dp4a by its definition, and mma.sync m16n8k32 by an
// emulation written from the PTX ISA fragment tables (each lane stages its A/B registers, the warp's 16x8 products
// are formed from the staged tiles). Blocks run one after another. Integer results must match exactly, f32 scaled
// outputs bit for bit (formed in double like the reference), s4 and L-Mul within 1e-5 of the sum of magnitudes.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <vector>
#include <thread>
#include <barrier>
#include <random>
#include <algorithm>
#include <functional>
#include "cuda_on_host.h"
std::barrier<>* g_bar;
#define __syncthreads() g_bar->arrive_and_wait()
using std::isfinite; using std::signbit; using std::scalbn; using std::rint; using std::fmin; using std::fmax;
template <class T> static inline T __ldg(const T* p) { return *p; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline int __popc(unsigned v) { return __builtin_popcount(v); }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline float __double2float_rn(double d) { return (float)d; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline int __dp4a(int a, int b, int c) {
    for (int q = 0; q < 4; q++) c += (int)(signed char)(a >> (8 * q)) * (int)(signed char)(b >> (8 * q));
    return c;
}
#define KIND_S8S8 0
#define KIND_U8S8 1
#define KIND_B1 2
template <int KIND> inline int word_mac(unsigned a, unsigned b, int acc) {
    if (KIND == KIND_S8S8) return __dp4a((int)a, (int)b, acc);
    if (KIND == KIND_U8S8) { for (int q = 0; q < 4; q++) acc += (int)((a >> (8 * q)) & 0xFF) * (int)(signed char)(b >> (8 * q)); return acc; }
    return acc + __popc(a ^ b);
}
// mma.sync m16n8k32 per the PTX ISA fragment tables, emulated warp by warp through staging and block barriers.
static unsigned char stageA[8][16][32], stageB[8][32][8];
template <bool U8> inline void mma_i8(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; q++) {
        stageA[warp][g][4 * t + q] = a[0] >> (8 * q);
        stageA[warp][g + 8][4 * t + q] = a[1] >> (8 * q);
        stageA[warp][g][16 + 4 * t + q] = a[2] >> (8 * q);
        stageA[warp][g + 8][16 + 4 * t + q] = a[3] >> (8 * q);
        stageB[warp][4 * t + q][g] = b[0] >> (8 * q);
        stageB[warp][16 + 4 * t + q][g] = b[1] >> (8 * q);
    }
    g_bar->arrive_and_wait();
    for (int q = 0; q < 4; q++) {
        int row = g + (q >> 1) * 8, col = 2 * t + (q & 1);
        for (int k = 0; k < 32; k++) {
            int av = U8 ? (int)stageA[warp][row][k] : (int)(signed char)stageA[warp][row][k];
            d[q] += av * (int)(signed char)stageB[warp][k][col];
        }
    }
    g_bar->arrive_and_wait();
}
#include "qgemm_host.inc"   // qgemm.cu without its two inline-asm functions (the test writes it)

// 256 persistent worker threads (the block); each launch runs the kernel on all of them once per block.
static const int THREADS = 256;
static std::barrier<> blockBarrier(THREADS);
#include "block_workers.h"

static void launch(int gx, int gy, const std::function<void()>& kernel) {
    g_bar = &blockBarrier;
    runBlocks(gx, gy, kernel);
}

static int cdiv(int a, int b) { return (a + b - 1) / b; }
static long bad = 0, checked = 0;
static void expect(bool ok, const char* what, int m, int n, int k, long at, double got, double want) {
    checked++;
    if (!ok && bad++ < 20) printf("MISMATCH %s m=%d n=%d k=%d at %ld: got %.9g want %.9g\n", what, m, n, k, at, got, want);
}
// Shapes m,n,k from the arguments ("7,13,17 65,130,70 ..."), a seed first.
int main(int argc, char** argv) {
    if (argc < 3) { fprintf(stderr, "usage: qgemm_emu SEED M,N,K...\n"); return 2; }
    std::mt19937 rng((unsigned)atol(argv[1]));
    for (int a = 2; a < argc; a++) {
        int m, n, k;
        if (sscanf(argv[a], "%d,%d,%d", &m, &n, &k) != 3) { fprintf(stderr, "bad shape %s\n", argv[a]); return 2; }
        std::vector<unsigned char> A(m * k), B(n * k);
        for (auto& v : A) v = rng(); for (auto& v : B) v = rng();
        std::vector<float> sa(m), sb(n);
        for (auto& v : sa) v = std::uniform_real_distribution<float>(0.5f, 1.5f)(rng) / (128 * std::sqrt((float)k));
        for (auto& v : sb) v = (rng() & 1 ? 1 : -1) * std::uniform_real_distribution<float>(0.2f, 1.f)(rng);
        for (int u8 = 0; u8 < 2; u8++)
            for (int out = 0; out < 3; out++)
                for (int mma = 0; mma < 2; mma++) {
                    std::vector<unsigned char> C((size_t)m * n * 4, 0xCD);
                    int tile = mma ? 128 : 64;
                    launch(cdiv(n, tile), cdiv(m, tile), [&] {
                        if (mma) (u8 ? qgemm_u8s8_mma : qgemm_s8s8_mma)(A.data(), B.data(), sa.data(), sb.data(), C.data(), m, n, k, k, out);
                        else (u8 ? qgemm_u8s8_dp4a : qgemm_s8s8_dp4a)(A.data(), B.data(), sa.data(), sb.data(), C.data(), m, n, k, k, out);
                    });
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            long long acc = 0;
                            for (int p = 0; p < k; p++) acc += (long long)(u8 ? (int)A[i * k + p] : (int)(signed char)A[i * k + p]) * (signed char)B[j * k + p];
                            long at = (long)i * n + j;
                            double v = acc * (double)sa[i] * sb[j];
                            const char* what = mma ? (u8 ? "u8s8 mma" : "s8s8 mma") : (u8 ? "u8s8 dp4a" : "s8s8 dp4a");
                            if (out == 0) { int got; memcpy(&got, &C[at * 4], 4); expect(got == acc, what, m, n, k, at, got, (double)acc); }
                            else if (out == 1) { float got; memcpy(&got, &C[at * 4], 4); expect(got == (float)v, what, m, n, k, at, got, (float)v); }
                            else { signed char got = (signed char)C[at]; signed char want = (signed char)std::min(std::max(std::rint(v), -128.0), 127.0); expect(got == want, what, m, n, k, at, got, want); }
                        }
                }
        // b1: rows of ceil(k/8) bytes, random padding bits
        int rb = (k + 7) / 8;
        std::vector<unsigned char> A1(m * rb), B1(n * rb);
        for (auto& v : A1) v = rng(); for (auto& v : B1) v = rng();
        for (int out = 0; out < 2; out++) {
            std::vector<unsigned char> C((size_t)m * n * 4, 0xCD);
            launch(cdiv(n, 64), cdiv(m, 64), [&] { qgemm_b1_popc(A1.data(), B1.data(), sa.data(), sb.data(), C.data(), m, n, k, rb, out); });
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    long long acc = 0;
                    for (int p = 0; p < k; p++) acc += ((A1[i * rb + p / 8] >> (p % 8)) & 1) == ((B1[j * rb + p / 8] >> (p % 8)) & 1) ? 1 : -1;
                    long at = (long)i * n + j;
                    if (out == 0) { int got; memcpy(&got, &C[at * 4], 4); expect(got == acc, "b1", m, n, k, at, got, (double)acc); }
                    else { float got; memcpy(&got, &C[at * 4], 4); float want = (float)(acc * (double)sa[i] * sb[j]); expect(got == want, "b1 f32", m, n, k, at, got, want); }
                }
        }
        // s4 (k even, group dividing k) and lmul
        int k4 = k % 2 ? k + 1 : k, gs = k4 % 32 == 0 ? 32 : k4 % 4 == 0 ? 4 : 2;
        std::vector<float> Af(m * k4), Bf(n * k4);
        std::vector<unsigned char> B4(n * k4 / 2);
        for (auto& v : Af) v = std::uniform_real_distribution<float>(-2, 2)(rng);
        for (auto& v : Bf) v = std::uniform_real_distribution<float>(-2, 2)(rng);
        for (auto& v : B4) v = rng();
        int groups = k4 / gs;
        std::vector<float> s4s(n * groups);
        for (auto& v : s4s) v = std::uniform_real_distribution<float>(0.01f, 0.2f)(rng);
        std::vector<float> C(m * n, NAN);
        launch(cdiv(n, 64), cdiv(m, 64), [&] { qgemm_s4(Af.data(), B4.data(), s4s.data(), C.data(), m, n, k4, gs); });
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0, mag = 0;
                for (int g = 0; g < groups; g++) {
                    double part = 0, pm = 0;
                    for (int p = g * gs; p < (g + 1) * gs; p++) {
                        int e = j * k4 + p, byte = B4[e / 2], nib = e % 2 ? (byte >> 4) & 15 : byte & 15;
                        int q = nib >= 8 ? nib - 16 : nib;
                        part += (double)Af[i * k4 + p] * q; pm += std::fabs((double)Af[i * k4 + p] * q);
                    }
                    acc += s4s[j * groups + g] * part; mag += s4s[j * groups + g] * pm;
                }
                long at = (long)i * n + j;
                expect(std::fabs(C[at] - acc) <= 1e-5 * mag + 1e-6, "s4", m, n, k4, at, C[at], acc);
            }
        for (int mb = 3; mb <= 4; mb++) {
            std::fill(C.begin(), C.end(), NAN);
            launch(cdiv(n, 64), cdiv(m, 64), [&] { qgemm_lmul(Af.data(), Bf.data(), C.data(), m, n, k4, mb); });
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0, mag = 0;
                    for (int p = 0; p < k4; p++) {
                        float x = Af[i * k4 + p], y = Bf[j * k4 + p];
                        unsigned bx = __float_as_uint(x), by = __float_as_uint(y);
                        double xm = ((bx & 0x7FFFFF) >> (23 - mb)) / (double)(1 << mb), ym = ((by & 0x7FFFFF) >> (23 - mb)) / (double)(1 << mb);
                        int ex = ((bx >> 23) & 0xFF) - 127, ey = ((by >> 23) & 0xFF) - 127;
                        double v = std::ldexp(1 + xm + ym + std::ldexp(1.0, -3), ex + ey) * ((std::signbit(x) != std::signbit(y)) ? -1 : 1);
                        acc += (float)v; mag += std::fabs((float)v);
                    }
                    long at = (long)i * n + j;
                    expect(std::fabs(C[at] - acc) <= 1e-5 * mag + 1e-6, "lmul", m, n, k4, at, C[at], acc);
                }
        }
        printf("m=%d n=%d k=%d done (%ld checked, %ld bad)\n", m, n, k, checked, bad); fflush(stdout);
    }
    stopWorkers();
    printf("TOTAL %ld checked, %ld bad\n", checked, bad);
    return bad != 0;
}
