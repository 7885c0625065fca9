package dev.kiln.nn.layers;

import dev.kiln.nn.ConvOps;
import dev.kiln.nn.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * 1D convolution over n x channels x length input with stride, padding, dilation and groups (depthwise:
 * groups = in); weights are out x in/groups x kernel, Kaiming-uniform from the seed, bias U(+-1/sqrt(fanIn)).
 */
public final class Conv1d implements Layer {
    private final Tensor weight, bias;
    private final int in, out, stride, pad, dilation, groups;

    public Conv1d(int in, int out, int kernel, int stride, int pad, int dilation, int groups, SplittableRandom random) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || dilation <= 0 || groups <= 0
                || in % groups != 0 || out % groups != 0)
            throw new IllegalArgumentException("conv1d: bad configuration in=" + in + " out=" + out + " kernel=" + kernel
                    + " stride=" + stride + " pad=" + pad + " dilation=" + dilation + " groups=" + groups
                    + " (sizes positive, padding >= 0, channels multiples of groups)");
        this.in = in;
        this.out = out;
        this.stride = stride;
        this.pad = pad;
        this.dilation = dilation;
        this.groups = groups;
        int fanIn = in / groups * kernel;
        this.weight = Tensor.parameter(Init.kaimingUniform(out * fanIn, fanIn, random), out, in / groups, kernel);
        this.bias = Tensor.parameter(Init.uniform(out, 1 / Math.sqrt(fanIn), random), out);
    }

    public Conv1d(int in, int out, int kernel, int stride, int pad, SplittableRandom random) {
        this(in, out, kernel, stride, pad, 1, 1, random);
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.dim(1) != in)
            throw new IllegalArgumentException("conv1d(" + in + "->" + out + "): input of shape " + Arrays.toString(x.shape())
                    + ", expected [batch, " + in + ", length]");
        return ConvOps.conv1d(x, weight, bias, stride, pad, dilation, groups);
    }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", weight), new Parameter("bias", bias)); }
}
