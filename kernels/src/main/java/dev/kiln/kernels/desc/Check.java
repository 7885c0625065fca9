package dev.kiln.kernels.desc;

/** Argument checks shared by the descriptors' constructors: every message names the op and the numbers. */
public final class Check {
    private Check() {}

    public static void positive(String op, String name, long value) {
        if (value <= 0) throw new IllegalArgumentException(op + ": " + name + " must be > 0, got " + value);
    }

    public static void nonNegative(String op, String name, long value) {
        if (value < 0) throw new IllegalArgumentException(op + ": " + name + " must be >= 0, got " + value);
    }

    /** As {@link #atLeast(String, String, long, long, String)}, building the explanation only on failure (hot paths). */
    public static void atLeast(String op, String name, long value, long min, java.util.function.Supplier<String> why) {
        if (value < min) atLeast(op, name, value, min, why.get());
    }

    /** As {@link #that(boolean, String, String)}, building the message only on failure (hot paths). */
    public static void that(boolean ok, String op, java.util.function.Supplier<String> message) {
        if (!ok) that(false, op, message.get());
    }

    public static void atLeast(String op, String name, long value, long min, String why) {
        if (value < min)
            throw new IllegalArgumentException(op + ": " + name + " = " + value + " must be >= " + min + " (" + why + ")");
    }

    public static void notNull(String op, String name, Object value) {
        if (value == null) throw new IllegalArgumentException(op + ": " + name + " is null");
    }

    public static void that(boolean ok, String op, String message) {
        if (!ok) throw new IllegalArgumentException(op + ": " + message);
    }

    /**
     * The element type of a floating-point op whose reference kernel computes in f32 or f64 (f64 exists for
     * gradient checks in double; backends without f64 kernels decline it and dispatch falls back).
     */
    public static void f32OrF64(String op, dev.kiln.kernels.DType dtype) {
        notNull(op, "dtype", dtype);
        that(dtype == dev.kiln.kernels.DType.F32 || dtype == dev.kiln.kernels.DType.F64, op,
                "dtype must be f32 or f64, got " + dtype.lower());
    }

    /** a*b with an error naming the op when it overflows a long. */
    public static long mul(String op, long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(op + ": size " + a + " * " + b + " overflows a long");
        }
    }

    public static long mul(String op, long a, long b, long c) { return mul(op, mul(op, a, b), c); }

    public static long mul(String op, long a, long b, long c, long d) { return mul(op, mul(op, a, b, c), d); }

    public static long add(String op, long a, long b) {
        try {
            return Math.addExact(a, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(op + ": size " + a + " + " + b + " overflows a long");
        }
    }

    /** Elements spanned by {@code rows} rows of {@code cols} elements, {@code ld} apart: (rows-1)*ld + cols. */
    public static long span(String op, long rows, long cols, long ld) {
        if (rows == 0 || cols == 0) return 0;
        return add(op, mul(op, rows - 1, ld), cols);
    }

    /** A count that must fit in an int (Java arrays, most kernels' index arithmetic). */
    public static int toInt(String op, String name, long value) {
        if (value > Integer.MAX_VALUE)
            throw new IllegalArgumentException(op + ": " + name + " = " + value + " exceeds " + Integer.MAX_VALUE);
        return (int) value;
    }
}
