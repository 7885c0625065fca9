package dev.kiln.nn.layers;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.List;
import java.util.SplittableRandom;

/** y = x W^T + b, with W of shape out x in (Kaiming-uniform weights, bias U(-1/sqrt(in), 1/sqrt(in))). */
public final class Linear implements Layer {
    private final Tensor weight, bias;
    private final int in, out;

    public Linear(int in, int out, SplittableRandom random) {
        if (in <= 0 || out <= 0) throw new IllegalArgumentException("linear: features must be > 0, got in=" + in + " out=" + out);
        this.in = in;
        this.out = out;
        this.weight = Tensor.parameter(Init.kaimingUniform(in * out, in, random), out, in);
        this.bias = Tensor.parameter(Init.uniform(out, 1 / Math.sqrt(in), random), out);
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 2 || x.dim(1) != in)
            throw new IllegalArgumentException("linear(" + in + "->" + out + "): input of shape " + java.util.Arrays.toString(x.shape())
                    + ", expected [batch, " + in + "]");
        return Ops.linear(x, weight, bias);
    }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", weight), new Parameter("bias", bias)); }
}
