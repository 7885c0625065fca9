// What CUDA source needs to compile as plain C++ in the emulation harnesses: the thread/block indices (one OS
// thread per CUDA thread, so threadIdx is thread_local) and the qualifiers, which mean nothing on the host
// (__shared__ becomes a static, shared by the block's threads). Each harness defines __syncthreads itself.
#pragma once
struct dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local dim3 threadIdx;
dim3 blockIdx, blockDim, gridDim;
#define __shared__ static
#define __global__
#define __device__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
