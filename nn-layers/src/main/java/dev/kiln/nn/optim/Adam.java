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
 * Adam and AdamW with bias correction, following PyTorch's update at step t (from 1):
 * <pre>
 *   g  = grad + wd w                      (Adam only: L2 decay through the gradient)
 *   w  = w (1 - lr wd)                    (AdamW only: decoupled decay)
 *   m  = b1 m + (1 - b1) g
 *   v  = b2 v + (1 - b2) g^2
 *   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 * Moments are f32 on the parameters' device, named {@code exp_avg.NAME} and {@code exp_avg_sq.NAME}; each step
 * replaces them with new tensors, so callers must not hold on to {@link #state()} across steps.
 */
public final class Adam implements Optimizer {
    private final List<Parameter> params;
    private final List<Parameter> m = new ArrayList<>(), v = new ArrayList<>();
    private final double beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private double lr;
    private long steps;

    /**
     * @param decoupled true for AdamW (decay applied to the weights), false for Adam (decay added to the gradient)
     */
    public Adam(List<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        String name = decoupled ? "adamw" : "adam";
        if (!(lr > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(weightDecay >= 0))
            throw new IllegalArgumentException(name + ": need lr > 0 (got " + lr + "), 0 <= beta1, beta2 < 1 (got " + beta1 + ", "
                    + beta2 + "), eps > 0 (got " + eps + "), weight decay >= 0 (got " + weightDecay + ")");
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        for (Parameter p : this.params) {
            m.add(new Parameter("exp_avg." + p.name(), Tensor.zeros(p.tensor().shape()).keep()));
            v.add(new Parameter("exp_avg_sq." + p.name(), Tensor.zeros(p.tensor().shape()).keep()));
        }
    }

    /** Adam with PyTorch's defaults: betas 0.9, 0.999, eps 1e-8, no weight decay. */
    public static Adam adam(List<Parameter> params, double lr) { return new Adam(params, lr, 0.9, 0.999, 1e-8, 0, false); }

    /** AdamW with PyTorch's defaults: betas 0.9, 0.999, eps 1e-8, weight decay 0.01. */
    public static Adam adamW(List<Parameter> params, double lr) { return new Adam(params, lr, 0.9, 0.999, 1e-8, 0.01, true); }

    @Override public String name() { return decoupled ? "adamw" : "adam"; }

    @Override public double learningRate() { return lr; }

    @Override public void setLearningRate(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException(name() + ": learning rate must be >= 0, got " + lr);
        this.lr = lr;
    }

    @Override public long steps() { return steps; }

    @Override public void setSteps(long steps) { this.steps = steps; }

    @Override public Map<String, Double> hyperParameters() {
        Map<String, Double> h = new LinkedHashMap<>();
        h.put("beta1", beta1);
        h.put("beta2", beta2);
        h.put("eps", eps);
        h.put("weight_decay", weightDecay);
        return h;
    }

    @Override public List<Parameter> parameters() { return params; }

    @Override public List<Parameter> state() {
        List<Parameter> all = new ArrayList<>(m);
        all.addAll(v);
        return all;
    }

    @Override public void step() {
        long t = steps + 1;
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        try (Scope s = Scope.open(); NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor w = params.get(i).tensor();
                Tensor g = w.grad();
                if (g == null) continue;
                if (weightDecay != 0 && !decoupled) g = Ops.add(g, Ops.scale(w, (float) weightDecay));
                // The moments are replaced, not copied into: one pass fewer each; only w must stay the same tensor.
                Tensor mi = replace(m, i, Ops.add(Ops.scale(m.get(i).tensor(), (float) beta1), Ops.scale(g, (float) (1 - beta1))));
                Tensor vi = replace(v, i, Ops.add(Ops.scale(v.get(i).tensor(), (float) beta2), Ops.scale(Ops.mul(g, g), (float) (1 - beta2))));
                Tensor denom = Ops.add(Ops.scale(Ops.sqrt(vi), (float) (1 / Math.sqrt(bc2))), Tensor.of(new float[] {(float) eps}, 1));
                Tensor base = weightDecay != 0 && decoupled ? Ops.scale(w, (float) (1 - lr * weightDecay)) : w;
                Ops.copyInto(Ops.sub(base, Ops.scale(Ops.div(mi, denom), (float) (lr / bc1))), w);
            }
        }
        steps = t;
        zeroGrad();
    }

    /** Makes {@code next} (kept out of the step's scope) state {@code i} of {@code list}, closing the old tensor. */
    static Tensor replace(List<Parameter> list, int i, Tensor next) {
        Parameter old = list.get(i);
        list.set(i, new Parameter(old.name(), next.keep()));
        old.tensor().close();
        return next;
    }

    @Override public void zeroGrad() { Optimizer.zeroGrads(params); }

    @Override public void close() {
        for (Parameter p : state()) p.tensor().close();
        m.clear();
        v.clear();
    }
}
