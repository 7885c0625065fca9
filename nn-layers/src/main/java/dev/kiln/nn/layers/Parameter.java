package dev.kiln.nn.layers;

import dev.kiln.nn.Tensor;

/** A named trainable tensor (names are stable paths such as {@code 0.weight}, used by checkpoints). */
public record Parameter(String name, Tensor tensor) {}
