// f32 <-> f16 / bf16 conversion (host side: CudaConvert.java), bit for bit the reference (RefConvert /
// ConvertDesc): round to nearest even with f16 subnormals, overflow to infinity from 65520 up, NaNs made
// quiet with their sign and top payload bits. Done in integer arithmetic on the bit patterns, so the result
// does not depend on how a GPU's cvt treats NaN payloads or on flush-to-zero settings. One thread per element,
// grid-stride; f16 and bf16 are 16-bit words.

__device__ __forceinline__ unsigned short f32_to_f16(unsigned bits) {
    const unsigned sign = (bits >> 16) & 0x8000u, a = bits & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (unsigned short)(sign | 0x7E00u | ((bits >> 13) & 0x3FFu));   // NaN
    if (a >= 0x477FF000u) return (unsigned short)(sign | 0x7C00u);     // 65520 and up, infinity included
    if (a >= 0x38800000u) {                                             // normal f16: 2^-14 and up
        const unsigned r = a + 0xFFFu + ((a >> 13) & 1u) - (112u << 23);   // round at bit 13, rebias 127 -> 15
        return (unsigned short)(sign | (r >> 13));                      // a mantissa carry bumps the exponent
    }
    if (a <= 0x33000000u) return (unsigned short)sign;                  // 2^-25 or less: a (signed) zero
    // Subnormal f16: rint(|x| * 2^24), |x| = 1.m * 2^(e - 127) with e in [102, 112].
    const unsigned mant = (a & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - (int)(a >> 23);                             // 14 .. 24
    const unsigned q = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    return (unsigned short)(sign | (q + (rem > half || (rem == half && (q & 1u)))));   // 0x400 is the smallest normal
}

__device__ __forceinline__ unsigned f16_to_f32(unsigned short h) {
    const unsigned sign = (unsigned)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return sign | (m == 0 ? 0x7F800000u : 0x7FC00000u | (m << 13));
    if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
    return sign | __float_as_uint(__fmul_rn((float)m, 0x1p-24f));        // zero or subnormal: exact as f32
}

__device__ __forceinline__ unsigned short f32_to_bf16(unsigned bits) {
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (unsigned short)((bits >> 16) | 0x0040u);
    return (unsigned short)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ unsigned bf16_to_f32(unsigned short h) {
    const unsigned bits = (unsigned)h << 16;
    return (bits & 0x7FFFFFFFu) > 0x7F800000u ? bits | 0x00400000u : bits;
}

#define GRID_STRIDE(i, count) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void convert_f32_f16(const unsigned* __restrict__ src, unsigned short* __restrict__ dst, long long count) {
    GRID_STRIDE(i, count) dst[i] = f32_to_f16(src[i]);
}

extern "C" __global__ void convert_f16_f32(const unsigned short* __restrict__ src, unsigned* __restrict__ dst, long long count) {
    GRID_STRIDE(i, count) dst[i] = f16_to_f32(src[i]);
}

extern "C" __global__ void convert_f32_bf16(const unsigned* __restrict__ src, unsigned short* __restrict__ dst, long long count) {
    GRID_STRIDE(i, count) dst[i] = f32_to_bf16(src[i]);
}

extern "C" __global__ void convert_bf16_f32(const unsigned short* __restrict__ src, unsigned* __restrict__ dst, long long count) {
    GRID_STRIDE(i, count) dst[i] = bf16_to_f32(src[i]);
}
