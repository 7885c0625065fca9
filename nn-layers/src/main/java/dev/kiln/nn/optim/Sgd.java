package dev.kiln.nn.optim;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Parameter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stochastic gradient descent with momentum, PyTorch's convention: d = g + wd w; v = mu v + d;
 * w -= lr v (Nesterov: w -= lr (d + mu v)). The velocity starts at zero, so the first step is v = d.
 */
public final class Sgd implements Optimizer {
    private final List<Parameter> params;
    private final List<Parameter> velocity = new ArrayList<>();
    private final double momentum, weightDecay;
    private final boolean nesterov;
    private double lr;
    private long steps;

    public Sgd(List<Parameter> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        if (!(lr > 0) || !(momentum >= 0) || !(weightDecay >= 0))
            throw new IllegalArgumentException("sgd: lr=" + lr + " must be > 0, momentum=" + momentum + " and weight decay="
                    + weightDecay + " >= 0");
        if (nesterov && momentum == 0) throw new IllegalArgumentException("sgd: Nesterov momentum needs momentum > 0");
        this.params = List.copyOf(params);
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        if (momentum != 0) {
            for (Parameter p : this.params)
                velocity.add(new Parameter("momentum." + p.name(), Tensor.zeros(p.tensor().shape()).keep()));
        }
    }

    @Override public String name() { return "sgd"; }

    @Override public void setLearningRate(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("sgd: learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    @Override public double learningRate() { return lr; }

    @Override public long steps() { return steps; }

    @Override public void setSteps(long steps) { this.steps = steps; }

    @Override public Map<String, Double> hyperParameters() {
        Map<String, Double> h = new LinkedHashMap<>();
        h.put("momentum", momentum);
        h.put("weight_decay", weightDecay);
        h.put("nesterov", nesterov ? 1.0 : 0.0);
        return h;
    }

    @Override public List<Parameter> parameters() { return params; }

    @Override public List<Parameter> state() { return List.copyOf(velocity); }

    @Override public void step() {
        try (Scope s = Scope.open(); NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor w = params.get(i).tensor();
                Tensor g = w.grad();
                if (g == null) continue;
                Tensor d = weightDecay == 0 ? g : Ops.add(g, Ops.scale(w, (float) weightDecay));
                Tensor dir = d;
                if (momentum != 0) {
                    Tensor v = Adam.replace(velocity, i, Ops.add(Ops.scale(velocity.get(i).tensor(), (float) momentum), d));
                    dir = nesterov ? Ops.add(d, Ops.scale(v, (float) momentum)) : v;
                }
                Ops.copyInto(Ops.sub(w, Ops.scale(dir, (float) lr)), w);
            }
        }
        steps++;
        zeroGrad();
    }

    @Override public void zeroGrad() { Optimizer.zeroGrads(params); }

    @Override public void close() {
        for (Parameter v : velocity) v.tensor().close();
        velocity.clear();
    }
}
