package dev.kiln.kernels;

/**
 * Element types. Packed types ({@link #S4}, {@link #B1}) store several elements per byte, low bits first;
 * their element counts are logical elements and {@link #bytes(long)} rounds up to whole bytes.
 */
public enum DType {
    F32(32), F64(64), F16(16), BF16(16), S8(8), U8(8), S32(32),
    /** Signed 4-bit integers, two per byte, the first in the low nibble. */
    S4(4),
    /** Single bits, eight per byte, the first in the least significant bit. */
    B1(1);

    private final int bits;

    DType(int bits) { this.bits = bits; }

    public int bits() { return bits; }

    public boolean isPacked() { return bits < 8; }

    public boolean isFloatingPoint() { return this == F32 || this == F64 || this == F16 || this == BF16; }

    /** Bytes needed for {@code count} elements; IllegalArgumentException if that overflows a long. */
    public long bytes(long count) {
        if (count < 0) throw new IllegalArgumentException("negative element count " + count + " for " + this);
        if (count > Long.MAX_VALUE / bits)
            throw new IllegalArgumentException("the byte size of " + count + " " + lower() + " elements overflows a long");
        return Math.ceilDiv(count * bits, 8L);
    }

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
