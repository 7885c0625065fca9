package dev.kiln.nn.layers;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * x + body(x): a skip connection around any layer whose output has the input's shape. Parameters and
 * buffers are the body's, prefixed {@code body.}; the gradient reaches x along both paths and adds up.
 */
public final class Residual implements Layer {
    private final Layer body;

    public Residual(Layer body) {
        if (body == null) throw new IllegalArgumentException("residual: body is null");
        this.body = body;
    }

    @Override public Tensor forward(Tensor x) {
        Tensor y = body.forward(x);
        if (!java.util.Arrays.equals(y.shape(), x.shape()))
            throw new IllegalArgumentException("residual: the body maps " + java.util.Arrays.toString(x.shape()) + " to "
                    + java.util.Arrays.toString(y.shape()) + "; a skip connection needs the same shape");
        return Ops.add(x, y);
    }

    @Override public List<Parameter> parameters() { return prefixed(body.parameters()); }

    @Override public List<Parameter> buffers() { return prefixed(body.buffers()); }

    private static List<Parameter> prefixed(List<Parameter> ps) {
        List<Parameter> out = new ArrayList<>(ps.size());
        for (Parameter p : ps) out.add(new Parameter("body." + p.name(), p.tensor()));
        return out;
    }

    @Override public void train(boolean training) { body.train(training); }

    @Override public void close() { body.close(); }
}
