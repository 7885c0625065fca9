// One CUDA block emulated by THREADS persistent OS threads, shared by the emulation harnesses. Include it after
// THREADS and the dim3 globals (thread_local threadIdx, blockIdx, blockDim, gridDim) are declared.
// runBlocks(gx, gy, kernel) runs the kernel on every thread of the block once per block of a gx x gy grid, one
// block after another; stopWorkers() ends the threads.
#pragma once
#include <barrier>
#include <functional>
#include <thread>
#include <vector>

static std::barrier<> startBarrier(THREADS + 1), doneBarrier(THREADS + 1);
static const std::function<void()>* job;
static bool quit;
static std::vector<std::thread> workers;

static void runBlocks(int gx, int gy, const std::function<void()>& kernel) {
    if (workers.empty())
        for (int t = 0; t < THREADS; t++)
            workers.emplace_back([t] {
                threadIdx.x = t;
                for (;;) {
                    startBarrier.arrive_and_wait();
                    if (quit) return;
                    (*job)();
                    doneBarrier.arrive_and_wait();
                }
            });
    blockDim.x = THREADS; gridDim.x = gx; gridDim.y = gy;
    job = &kernel;
    for (int by = 0; by < gy; by++)
        for (int bx = 0; bx < gx; bx++) {
            blockIdx.x = bx; blockIdx.y = by;
            startBarrier.arrive_and_wait();
            doneBarrier.arrive_and_wait();
        }
}

static void stopWorkers() {
    quit = true;
    if (!workers.empty()) startBarrier.arrive_and_wait();
    for (auto& w : workers) w.join();
}
