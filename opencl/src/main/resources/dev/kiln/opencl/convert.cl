// f32 <-> f16 / bf16 (ConvertDesc), bit for bit as RefConvert, in integer arithmetic on the bit patterns so no
// device rounding mode, denormal flushing or half-precision support matters. One work-item per element.
// f32 to f16: nearest even, gradual underflow to subnormals (a signed zero at or below 2^-25), infinity from
// 65520 up; NaN keeps its sign and top 10 payload bits, made quiet. f32 to bf16: nearest even on the top 16
// bits; NaN made quiet. f16 / bf16 to f32: exact; NaN made quiet, payload kept.

// Every class is computed and the result selected, without branches, so a driver can vectorise across
// work-items (lanes of one vector would otherwise take different branches).
inline ushort f32_to_f16(uint bits) {
    const uint sign = (bits >> 16) & 0x8000u, a = bits & 0x7FFFFFFFu;
    const uint nan = 0x7E00u | ((bits >> 13) & 0x3FFu);
    // normal: round the 13 dropped bits to nearest even; a carry runs into the exponent, as it should
    const uint normal = ((a + 0xFFFu + ((a >> 13) & 1)) >> 13) - (112u << 10);
    // below 2^-14, an f16 subnormal: |x| = sig * 2^(e - 150) is sig >> (126 - e) units of 2^-24, rounded to
    // nearest even; the shift is capped at 25, which gives 0 for everything at or below 2^-25 (2^-25 itself
    // ties to the even 0; f32 zeros and subnormals land here too). r = 1024 is the smallest normal, correctly.
    const uint e = a >> 23, sig = (a & 0x7FFFFFu) | 0x800000u;
    const uint s = (uint) clamp(126 - (int) e, 14, 25);
    const uint r = sig >> s, rem = sig & ((1u << s) - 1), halfway = 1u << (s - 1);
    const uint sub = r + ((rem > halfway || (rem == halfway && (r & 1))) ? 1u : 0u);
    const uint v = a > 0x7F800000u ? nan : a >= 0x477FF000u ? 0x7C00u : a < 0x38800000u ? sub : normal;  // 65520 up: infinity
    return (ushort) (sign | v);
}

inline uint f16_to_f32(ushort h) {
    const uint sign = ((uint) h & 0x8000u) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FFu;
    if (e == 0x1F) return sign | (m == 0 ? 0x7F800000u : 0x7FC00000u | (m << 13));
    if (e != 0) return sign | ((e + 112) << 23) | (m << 13);
    if (m == 0) return sign;
    // subnormal m * 2^-24: normalise so the leading bit becomes the implicit one
    const uint shift = clz(m) - 21;                                  // m has 32 - clz(m) bits; the top one goes to bit 10
    return sign | ((113 - shift) << 23) | (((m << shift) & 0x3FFu) << 13);
}

inline ushort f32_to_bf16(uint bits) {
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (ushort) ((bits >> 16) | 0x0040u);
    return (ushort) ((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
}

inline uint bf16_to_f32(ushort h) {
    const uint bits = (uint) h << 16;
    return (bits & 0x7FFFFFFFu) > 0x7F800000u ? bits | 0x00400000u : bits;
}

__kernel void convert_f32_f16(__global const uint* src, __global ushort* dst, long count) {
    const long i = get_global_id(0);
    if (i < count) dst[i] = f32_to_f16(src[i]);
}

__kernel void convert_f16_f32(__global const ushort* src, __global uint* dst, long count) {
    const long i = get_global_id(0);
    if (i < count) dst[i] = f16_to_f32(src[i]);
}

__kernel void convert_f32_bf16(__global const uint* src, __global ushort* dst, long count) {
    const long i = get_global_id(0);
    if (i < count) dst[i] = f32_to_bf16(src[i]);
}

__kernel void convert_bf16_f32(__global const ushort* src, __global uint* dst, long count) {
    const long i = get_global_id(0);
    if (i < count) dst[i] = bf16_to_f32(src[i]);
}
