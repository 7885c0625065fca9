package dev.kiln.kernels.spi;

public enum DeviceKind { CPU, GPU, ACCELERATOR }
