package dev.kiln.kernels.desc;

import java.util.Arrays;

/** Tensor dimensions, outermost first (row-major). A rank-0 shape has one element. */
public record Shape(int[] dims) {
    public Shape {
        if (dims == null) throw new IllegalArgumentException("shape: dims is null");
        dims = dims.clone();
        for (int i = 0; i < dims.length; i++)
            if (dims[i] < 0) throw new IllegalArgumentException("shape: dimension " + i + " is " + dims[i] + " in " + Arrays.toString(dims));
    }

    public static Shape of(int... dims) { return new Shape(dims); }

    @Override public int[] dims() { return dims.clone(); }

    public int rank() { return dims.length; }

    public int dim(int i) { return dims[i]; }

    public long count() {
        long c = 1;
        for (int d : dims) {
            try {
                c = Math.multiplyExact(c, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape: element count of " + this + " overflows a long");
            }
        }
        return c;
    }

    /** The numpy broadcast of two shapes, or an exception naming both. */
    public static Shape broadcast(String op, Shape a, Shape b) {
        int rank = Math.max(a.rank(), b.rank());
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.rank() ? 1 : a.dims[i - (rank - a.rank())];
            int db = i < rank - b.rank() ? 1 : b.dims[i - (rank - b.rank())];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException(op + ": shapes " + a + " and " + b + " do not broadcast (dimension "
                        + i + " from the left of the result: " + da + " vs " + db + ")");
            out[i] = da == 1 ? db : da;
        }
        return new Shape(out);
    }

    @Override public boolean equals(Object o) { return o instanceof Shape s && Arrays.equals(dims, s.dims); }

    @Override public int hashCode() { return Arrays.hashCode(dims); }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) sb.append(i == 0 ? "" : "x").append(dims[i]);
        return sb.append(']').toString();
    }
}
