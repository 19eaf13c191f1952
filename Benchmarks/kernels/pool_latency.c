// Worker-pool overhead: jobs of two chunks that each busy-wait a fixed time, run back to back with a 20 µs gap
// (as decoding runs its GEMVs), against the ideal (one chunk's time). Shows the cost of waking a worker.
// Build and run with pool_latency.sh; no arguments.
#include "ckernels_pool.h"
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static pthread_t caller;
static long by_worker, work_us;
static volatile double sink;

static void chunk(void *context, long index) {
    (void)context;
    (void)index;
    if (!pthread_equal(pthread_self(), caller)) __atomic_add_fetch(&by_worker, 1, __ATOMIC_RELAXED);
    const double start = now_us();
    double s = 0;
    while (now_us() - start < work_us) s += 1;
    sink = s;
}

int main(void) {
    caller = pthread_self();
    const long works[] = {0, 20, 50, 100, 300};
    for (int w = 0; w < 5; w++) {
        work_us = works[w];
        by_worker = 0;
        const int jobs = 2000;
        const double start = now_us();
        for (int i = 0; i < jobs; i++) {
            ck_pool_run(2, chunk, 0);
            const double gap = now_us();
            while (now_us() - gap < 20) {}
        }
        const double per_job = (now_us() - start) / jobs - 20;
        printf("chunks of %3ld us: %6.1f us per job (ideal %3ld), worker ran %3.0f%% of the chunks\n", work_us,
               per_job, work_us, 100.0 * by_worker / (2.0 * jobs));
    }
    return 0;
}
