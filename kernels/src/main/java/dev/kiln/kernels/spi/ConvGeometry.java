package dev.kiln.kernels.spi;

import dev.kiln.kernels.desc.ConvDesc;

/**
 * Any convolution descriptor phrased as one regular convolution from a "wide" NCHW tensor X (cx channels,
 * hx x wx) to a "narrow" one Y (cy channels, hy x wy) through weights W (cy x cx/groups x r x s), as the
 * reference (RefConv) phrases it: a regular convolution has X = src and Y = dst, a transposed one X = dst and
 * Y = src. {@link #map} says which of the three maps of that relation a pass computes. For the device
 * backends' convolution kernels, which take exactly these numbers as arguments ({@link #args}).
 */
public record ConvGeometry(int n, int cx, int hx, int wx, int cy, int hy, int wy, int groups, int r, int s,
                           int sh, int sw, int ph, int pw, int dh, int dw) {

    /** X -> Y (the forward of a regular convolution), Y -> X (its data gradient), or X, Y -> W. */
    public enum Map { FWD, DATA, WEIGHTS }

    public static ConvGeometry of(ConvDesc d) {
        return d.transposed()
                ? new ConvGeometry(d.n(), d.k(), d.p(), d.q(), d.c(), d.h(), d.w(), d.groups(), d.r(), d.s(),
                                   d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW())
                : new ConvGeometry(d.n(), d.c(), d.h(), d.w(), d.k(), d.p(), d.q(), d.groups(), d.r(), d.s(),
                                   d.strideH(), d.strideW(), d.padH(), d.padW(), d.dilationH(), d.dilationW());
    }

    /** The map {@code d}'s pass computes: a transposed forward is the data gradient of its regular twin and back. */
    public static Map map(ConvDesc d) {
        boolean t = d.transposed();
        return switch (d.pass()) {
            case FORWARD -> t ? Map.DATA : Map.FWD;
            case BACKWARD_DATA -> t ? Map.FWD : Map.DATA;
            case BACKWARD_WEIGHTS -> Map.WEIGHTS;
        };
    }

    /** The numbers in declaration order, as the kernels' geometry arguments (GEOM_PARAMS of conv.cu, conv.cl). */
    public Object[] args() { return new Object[] {n, cx, hx, wx, cy, hy, wy, groups, r, s, sh, sw, ph, pw, dh, dw}; }
}
