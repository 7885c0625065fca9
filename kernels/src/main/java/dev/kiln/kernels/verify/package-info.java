/**
 * The parity harness: every backend's kernels checked against the reference kernels
 * ({@link dev.kiln.kernels.ref.RefKernels}) on seeded random inputs at awkward sizes.
 * <ul>
 * <li>{@link dev.kiln.kernels.verify.Parity}: the entry points ({@code cases}, {@code check}, {@code tolerance}).</li>
 * <li>{@link dev.kiln.kernels.verify.ParityResult}, {@link dev.kiln.kernels.verify.Tolerance}: what a check reports and allows.</li>
 * <li>{@code ParityCases}: the case lists; {@code ParityInputs}, {@code SparseInputs}: valid seeded operands;
 *     {@code ParityTolerances}: the numbers and why; {@code ParityCompare}: the element comparison.</li>
 * </ul>
 * Backend tests extend {@code dev.kiln.kernels.testing.ParityTestBase} from the kernels test-jar;
 * {@code kiln verify} calls {@link dev.kiln.kernels.verify.Parity} directly.
 */
package dev.kiln.kernels.verify;
