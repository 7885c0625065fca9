package dev.kiln.nn.layers;

import dev.kiln.nn.ConvOps;
import dev.kiln.nn.Tensor;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Transposed 2D convolution (learned upsampling) with square kernel, stride, padding and output padding;
 * weights in x out/groups x k x k as PyTorch's {@code ConvTranspose2d}, initialised uniform with the
 * fan-in PyTorch uses for it (out/groups * k * k).
 */
public final class ConvTranspose2d implements Layer {
    private final Tensor weight, bias;
    private final int in, out, stride, pad, outPad, groups;

    public ConvTranspose2d(int in, int out, int kernel, int stride, int pad, int outPad, int groups, SplittableRandom random) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || outPad < 0 || groups <= 0 || in % groups != 0 || out % groups != 0)
            throw new IllegalArgumentException("conv_transpose2d: bad configuration in=" + in + " out=" + out + " kernel=" + kernel
                    + " stride=" + stride + " pad=" + pad + " outPad=" + outPad + " groups=" + groups);
        this.in = in;
        this.out = out;
        this.stride = stride;
        this.pad = pad;
        this.outPad = outPad;
        this.groups = groups;
        int fanIn = out / groups * kernel * kernel;
        this.weight = Tensor.parameter(Init.kaimingUniform(in * fanIn, fanIn, random), in, out / groups, kernel, kernel);
        this.bias = Tensor.parameter(Init.uniform(out, 1 / Math.sqrt(fanIn), random), out);
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != in)
            throw new IllegalArgumentException("conv_transpose2d(" + in + "->" + out + "): input of shape "
                    + java.util.Arrays.toString(x.shape()) + ", expected [batch, " + in + ", height, width]");
        return ConvOps.convTranspose2d(x, weight, bias, stride, pad, outPad, groups);
    }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", weight), new Parameter("bias", bias)); }
}
