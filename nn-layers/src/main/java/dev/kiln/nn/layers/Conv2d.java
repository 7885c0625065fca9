package dev.kiln.nn.layers;

import dev.kiln.nn.ConvOps;
import dev.kiln.nn.Tensor;

import java.util.List;
import java.util.SplittableRandom;

/** 2D convolution over NCHW input with square kernel, stride, padding, dilation and groups (depthwise: groups = in). */
public final class Conv2d implements Layer {
    private final Tensor weight, bias;
    private final int in, out, kernel, stride, pad, dilation, groups;

    public Conv2d(int in, int out, int kernel, int stride, int pad, int dilation, int groups, SplittableRandom random) {
        if (in <= 0 || out <= 0 || kernel <= 0 || groups <= 0 || in % groups != 0 || out % groups != 0)
            throw new IllegalArgumentException("conv2d: bad configuration in=" + in + " out=" + out + " kernel=" + kernel
                    + " groups=" + groups + " (channels must be positive multiples of groups)");
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.dilation = dilation;
        this.groups = groups;
        int fanIn = in / groups * kernel * kernel;
        this.weight = Tensor.parameter(Init.kaimingUniform(out * fanIn, fanIn, random), out, in / groups, kernel, kernel);
        this.bias = Tensor.parameter(Init.uniform(out, 1 / Math.sqrt(fanIn), random), out);
    }

    public Conv2d(int in, int out, int kernel, int stride, int pad, SplittableRandom random) {
        this(in, out, kernel, stride, pad, 1, 1, random);
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != in)
            throw new IllegalArgumentException("conv2d(" + in + "->" + out + "): input of shape " + java.util.Arrays.toString(x.shape())
                    + ", expected [batch, " + in + ", height, width]");
        return ConvOps.conv2d(x, weight, bias, stride, pad, dilation, groups);
    }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", weight), new Parameter("bias", bias)); }

    public int stride() { return stride; }

    public int pad() { return pad; }

    public int dilation() { return dilation; }

    public int groups() { return groups; }
}
