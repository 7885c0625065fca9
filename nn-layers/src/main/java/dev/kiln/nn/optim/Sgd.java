package dev.kiln.nn.optim;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Parameter;

import java.util.ArrayList;
import java.util.List;

/**
 * Stochastic gradient descent with momentum (PyTorch's convention: v = mu v + g + wd w; w -= lr v;
 * Nesterov uses g + mu v as the step). Updates run as ordinary ops on the parameters' device.
 */
public final class Sgd implements AutoCloseable {
    private final List<Parameter> params;
    private final List<Tensor> velocity = new ArrayList<>();
    private final double momentum, weightDecay;
    private final boolean nesterov;
    private double lr;

    public Sgd(List<Parameter> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        if (lr <= 0 || momentum < 0 || weightDecay < 0)
            throw new IllegalArgumentException("sgd: lr=" + lr + " must be > 0, momentum=" + momentum + " and weight decay="
                    + weightDecay + " >= 0");
        this.params = List.copyOf(params);
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    public void setLearningRate(double lr) { this.lr = lr; }

    public double learningRate() { return lr; }

    /** Applies one update from the accumulated gradients, then clears them. */
    public void step() {
        try (NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor w = params.get(i).tensor();
                Tensor g = w.grad();
                if (g == null) continue;
                Tensor d = weightDecay == 0 ? g : Ops.add(g, Ops.scale(w, (float) weightDecay));
                Tensor stepDir = d;
                if (momentum != 0) {
                    while (velocity.size() <= i) velocity.add(null);
                    Tensor v = velocity.get(i);
                    Tensor next = v == null ? Ops.copy(d) : Ops.add(Ops.scale(v, (float) momentum), d);
                    next.keep();
                    if (v != null) v.close();
                    velocity.set(i, next);
                    stepDir = nesterov ? Ops.add(d, Ops.scale(next, (float) momentum)) : next;
                }
                Ops.copyInto(Ops.sub(w, Ops.scale(stepDir, (float) lr)), w);
                w.zeroGrad();
            }
        }
    }

    @Override public void close() {
        for (Tensor v : velocity) if (v != null) v.close();
        velocity.clear();
    }
}
