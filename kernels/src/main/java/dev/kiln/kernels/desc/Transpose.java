package dev.kiln.kernels.desc;

/** Whether a row-major matrix operand is used as stored ({@code N}) or transposed ({@code T}). */
public enum Transpose { N, T }
