package dev.kiln.nn.quant;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Parameter;

import java.util.List;

/**
 * A Linear or Conv2d trained with fake quantisation: each forward quantises the weight (per channel or per
 * group, from the current weights) and the input (per tensor, from the observed range) and runs the f32
 * op on the results; gradients reach the f32 weights through the mode's estimator. Parameters keep the
 * names of the f32 layer ({@code weight}, {@code bias}), so f32 checkpoints load into it; the observed
 * input range is a buffer ({@code input_range}).
 *
 * <p>In training mode (and while calibrating) the input range is updated from each batch before it is
 * used; in evaluation mode it is frozen. The binary estimator's exponent o rises linearly from 1 to
 * {@link FakeQuant#RESTE_O_END} over {@code totalSteps} training forwards.
 */
public abstract sealed class QatLayer implements Layer permits QatLinear, QatConv2d {
    final QuantMode mode;
    final Tensor weight, bias;
    final ActivationObserver observer = new ActivationObserver();
    private final int totalSteps;
    private int steps;
    private boolean training = true;

    QatLayer(QuantMode mode, Tensor weight, Tensor bias, int totalSteps) {
        this.mode = mode;
        this.weight = weight;
        this.bias = bias;
        this.totalSteps = Math.max(1, totalSteps);
    }

    /** Inputs per output channel (the row length of the weight as a matrix). */
    final int fanIn() { return Math.toIntExact(weight.count() / weight.dim(0)); }

    public QuantMode mode() { return mode; }

    /** The binary estimator's current exponent. */
    final double reSteO() { return 1 + (FakeQuant.RESTE_O_END - 1) * Math.min(1.0, (double) steps / totalSteps); }

    @Override public final Tensor forward(Tensor x) {
        checkInput(x);
        if (training && mode != QuantMode.INT4) observer.observe(x.toArray());
        if (training && !NoGrad.active()) steps++;
        double o = reSteO();
        return apply(FakeQuant.input(mode, x, observer, o), FakeQuant.weight(mode, weight, fanIn(), o));
    }

    abstract void checkInput(Tensor x);

    /** The f32 op on the fake-quantised input and weight. */
    abstract Tensor apply(Tensor x, Tensor w);

    @Override public void train(boolean training) { this.training = training; }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", weight), new Parameter("bias", bias)); }

    @Override public List<Parameter> buffers() { return List.of(new Parameter("input_range", observer.state())); }
}
