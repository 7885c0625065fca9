package dev.kiln.nn.quant;

import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Layer;

import java.util.Arrays;

/**
 * Inference-only Conv2d (one group, no dilation) on the low-bit GEMM, converted from a trained
 * {@link QatConv2d}: the input is unfolded (im2col) into one row of c*r*s values per output pixel, a few
 * images at a time, multiplied by the quantised weights and folded back to NCHW.
 *
 * <p>Padding contributes zero to the fake-quantised convolution, which int8 and int4 codes represent
 * exactly, but a binary code is always +1 or -1: padded taps go in as -1, and their contribution,
 * {@code -sum sign(w)} over the taps that fall outside the image, is cancelled per output pixel.
 */
public final class QuantizedConv2d implements Layer {
    /** Unfolded rows per GEMM call (bounds the im2col buffer). */
    private static final int ROWS_PER_CALL = 8192;

    private final LowBitMatmul matmul;
    private final int channels, kernelH, kernelW, stride, pad;
    private float[] paddingCorrection;
    private int correctionH = -1, correctionW = -1;

    QuantizedConv2d(QatConv2d trained) {
        matmul = new LowBitMatmul(trained);
        channels = trained.weight.dim(1);
        kernelH = trained.weight.dim(2);
        kernelW = trained.weight.dim(3);
        stride = trained.stride;
        pad = trained.pad;
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != channels)
            throw new IllegalArgumentException("quantized conv2d(" + channels + "->" + matmul.n + "): input of shape "
                    + Arrays.toString(x.shape()) + ", expected [batch, " + channels + ", height, width]");
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int p = (h + 2 * pad - kernelH) / stride + 1, q = (w + 2 * pad - kernelW) / stride + 1, pq = p * q, k = matmul.n;
        float[] in = x.toArray(), out = new float[n * k * pq];
        // int8 and binary inputs are quantised once, then their byte codes unfolded; padding is code 0, which is
        // the value 0 for int8 and bit 0 (-1) for binary, hence the binary correction.
        byte[] codes = matmul.mode == QuantMode.INT4 ? null : matmul.codes(in);
        float[] correction = matmul.mode == QuantMode.BINARY ? correction(h, w, p, q) : null;
        int images = Math.max(1, ROWS_PER_CALL / pq);
        for (int first = 0; first < n; first += images) {
            int count = Math.min(images, n - first);
            float[] y = codes == null ? matmul.multiply(unfold(in, first, count, h, w, p, q), count * pq, true)
                    : matmul.multiplyCodes(unfold(codes, first, count, h, w, p, q), count * pq, true);
            for (int img = 0; img < count; img++)
                for (int pix = 0; pix < pq; pix++)
                    for (int j = 0; j < k; j++) {
                        float v = y[(img * pq + pix) * k + j];
                        if (correction != null) v += matmul.inputScale * matmul.weightScales[j] * correction[pix * k + j];
                        out[((first + img) * k + j) * pq + pix] = v;
                    }
        }
        return Tensor.of(out, n, k, p, q);
    }

    /** Rows (image, output pixel) of columns (channel, kernel row, kernel column); padding 0. */
    private float[] unfold(float[] in, int first, int count, int h, int w, int p, int q) {
        float[] rows = new float[count * p * q * channels * kernelH * kernelW];
        int at = 0;
        for (int img = first; img < first + count; img++)
            for (int oy = 0; oy < p; oy++)
                for (int ox = 0; ox < q; ox++)
                    for (int c = 0; c < channels; c++) {
                        int base = (img * channels + c) * h * w;
                        for (int r = 0; r < kernelH; r++) {
                            int iy = oy * stride - pad + r;
                            for (int s = 0; s < kernelW; s++, at++) {
                                int ix = ox * stride - pad + s;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) rows[at] = in[base + iy * w + ix];
                            }
                        }
                    }
        return rows;
    }

    /** As {@link #unfold(float[], int, int, int, int, int, int)} for byte codes; padding code 0. */
    private byte[] unfold(byte[] in, int first, int count, int h, int w, int p, int q) {
        byte[] rows = new byte[count * p * q * channels * kernelH * kernelW];
        int at = 0;
        for (int img = first; img < first + count; img++)
            for (int oy = 0; oy < p; oy++)
                for (int ox = 0; ox < q; ox++)
                    for (int c = 0; c < channels; c++) {
                        int base = (img * channels + c) * h * w;
                        for (int r = 0; r < kernelH; r++) {
                            int iy = oy * stride - pad + r;
                            if (iy < 0 || iy >= h) {
                                at += kernelW;
                                continue;
                            }
                            int x0 = ox * stride - pad, row = base + iy * w;
                            if (x0 >= 0 && x0 + kernelW <= w) {
                                System.arraycopy(in, row + x0, rows, at, kernelW);
                                at += kernelW;
                                continue;
                            }
                            for (int s = 0; s < kernelW; s++, at++) {
                                int ix = x0 + s;
                                if (ix >= 0 && ix < w) rows[at] = in[row + ix];
                            }
                        }
                    }
        return rows;
    }

    /** Per output pixel and channel: the sum of sign(w) over the taps outside the image (binary only). */
    private float[] correction(int h, int w, int p, int q) {
        if (h == correctionH && w == correctionW) return paddingCorrection;
        int k = matmul.n, cols = channels * kernelH * kernelW;
        float[] corr = new float[p * q * k];
        for (int oy = 0; oy < p; oy++)
            for (int ox = 0; ox < q; ox++)
                for (int r = 0; r < kernelH; r++)
                    for (int s = 0; s < kernelW; s++) {
                        int iy = oy * stride - pad + r, ix = ox * stride - pad + s;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) continue;
                        for (int j = 0; j < k; j++)
                            for (int c = 0; c < channels; c++)
                                corr[(oy * q + ox) * k + j] += matmul.weightCodes[j * cols + (c * kernelH + r) * kernelW + s];
                    }
        paddingCorrection = corr;
        correctionH = h;
        correctionW = w;
        return corr;
    }

    LowBitMatmul matmul() { return matmul; }

    @Override public void close() { matmul.close(); }
}
