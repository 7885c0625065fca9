package dev.kiln.nn.io;

import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.optim.Optimizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's weights and its optimiser's state in one safetensors file ({@link SafeTensors}). Weights and
 * buffers keep the model's names ({@code 0.weight}, {@code 1.running_mean}); optimiser state is stored as {@code optimizer.NAME}
 * ({@code optimizer.momentum.0.weight}, {@code optimizer.exp_avg.0.weight}). The metadata holds the
 * caller's entries plus {@code optimizer}, {@code optimizer.lr}, {@code optimizer.steps} and each
 * hyper-parameter as {@code optimizer.KEY}. Loading checks everything before it changes anything.
 */
public final class Checkpoint {
    public static final String FORMAT = "kiln-checkpoint/1";
    static final String STATE_PREFIX = "optimizer.";

    private Checkpoint() {}

    /** Writes {@code model}'s parameters and {@code optimizer}'s state (may be null) atomically to {@code file}. */
    public static void save(Path file, Layer model, Optimizer optimizer, Map<String, String> metadata) throws IOException {
        save(file, model, optimizer, metadata, List.of());
    }

    /**
     * As {@link #save(Path, Layer, Optimizer, Map)}, plus {@code extra} tensors under their own names (e.g. pruning
     * masks, {@code prune.mask.0.weight}) that {@link #load(Path, Layer, Optimizer, List)} then expects.
     */
    public static void save(Path file, Layer model, Optimizer optimizer, Map<String, String> metadata, List<Parameter> extra)
            throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.putAll(metadata);
        List<SafeTensors.Item> items = new ArrayList<>();
        for (Parameter p : model.parameters()) items.add(item(p.name(), p));
        for (Parameter b : model.buffers()) items.add(item(b.name(), b));
        for (Parameter x : extra) items.add(item(x.name(), x));
        if (optimizer != null) {
            meta.put("optimizer", optimizer.name());
            meta.put("optimizer.lr", Double.toString(optimizer.learningRate()));
            meta.put("optimizer.steps", Long.toString(optimizer.steps()));
            for (Map.Entry<String, Double> h : optimizer.hyperParameters().entrySet())
                meta.put("optimizer." + h.getKey(), Double.toString(h.getValue()));
            for (Parameter s : optimizer.state()) items.add(item(STATE_PREFIX + s.name(), s));
        }
        SafeTensors.write(file, meta, items);
    }

    private static SafeTensors.Item item(String name, Parameter p) {
        return new SafeTensors.Item(name, p.tensor().shape(), p.tensor()::toArray);
    }

    /** The metadata of a checkpoint (after its checksum is verified), to choose a model before loading. */
    public static Map<String, String> metadata(Path file) throws IOException { return SafeTensors.read(file).metadata(); }

    /**
     * Loads weights into {@code model} and state into {@code optimizer} (null: optimiser state in the file is
     * ignored), restoring the optimiser's learning rate and step count. Names, shapes, dtypes and the
     * checksum are all checked first; on any mismatch nothing is changed and the error names the file and
     * the tensor. Returns the metadata.
     */
    public static Map<String, String> load(Path file, Layer model, Optimizer optimizer) throws IOException {
        return load(file, model, optimizer, List.of());
    }

    /** As {@link #load(Path, Layer, Optimizer)}, also filling the {@code extra} tensors saved with the same names. */
    public static Map<String, String> load(Path file, Layer model, Optimizer optimizer, List<Parameter> extra) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        String where = "checkpoint " + file;
        Map<String, String> meta = c.metadata();
        if (!FORMAT.equals(meta.get("format")))
            throw new IOException(where + ": format is " + meta.get("format") + ", expected " + FORMAT);
        Map<String, Parameter> expected = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) expected.put(p.name(), p);
        for (Parameter b : model.buffers()) expected.put(b.name(), b);
        for (Parameter x : extra) expected.put(x.name(), x);
        if (optimizer != null) {
            String saved = meta.get("optimizer");
            if (!optimizer.name().equals(saved))
                throw new IOException(where + ": holds state of optimizer " + saved + ", this run uses " + optimizer.name());
            for (Parameter s : optimizer.state()) expected.put(STATE_PREFIX + s.name(), s);
        }
        for (Map.Entry<String, Parameter> e : expected.entrySet()) {
            SafeTensors.Entry got = c.tensors().get(e.getKey());
            int[] want = e.getValue().tensor().shape();
            if (got == null) throw new IOException(where + ": tensor " + e.getKey() + " is missing (model expects shape " + shape(want) + ")");
            if (!Arrays.equals(got.shape(), want))
                throw new IOException(where + ": tensor " + e.getKey() + " has shape " + shape(got.shape()) + ", model expects " + shape(want));
        }
        for (String name : c.tensors().keySet()) {
            boolean optimizerState = name.startsWith(STATE_PREFIX);
            if (!expected.containsKey(name) && !(optimizerState && optimizer == null))
                throw new IOException(where + ": unexpected tensor " + name + " (not a " + (optimizerState ? "state of this optimizer" : "parameter of the model") + ")");
        }
        long steps = 0;
        double lr = 0;
        if (optimizer != null) {
            try {
                steps = Long.parseLong(meta.get("optimizer.steps"));
                lr = Double.parseDouble(meta.get("optimizer.lr"));
            } catch (NumberFormatException | NullPointerException e) {
                throw new IOException(where + ": metadata optimizer.steps=" + meta.get("optimizer.steps") + " optimizer.lr="
                        + meta.get("optimizer.lr") + " are not numbers");
            }
        }
        for (Map.Entry<String, Parameter> e : expected.entrySet()) e.getValue().tensor().set(c.tensors().get(e.getKey()).values());
        if (optimizer != null) {
            optimizer.setSteps(steps);
            optimizer.setLearningRate(lr);
        }
        return meta;
    }

    /** A shape as {@code [32,1,5,5]}. */
    public static String shape(int[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) sb.append(i == 0 ? "" : ",").append(shape[i]);
        return sb.append(']').toString();
    }
}
