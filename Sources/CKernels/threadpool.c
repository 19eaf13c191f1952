#include "ckernels_pool.h"

// A persistent worker pool for ck_pool_run. DispatchQueue.concurrentPerform often runs both chunks of a GEMV on one
// thread (then 2 threads are as slow as 1 for int8/int4), so ComputeThreads uses this instead.
//
// Waking a sleeping thread costs a futex call and, in a virtual machine, waking the idle virtual CPU: tens of µs,
// as long as a short job itself. Decoding runs ~150 such jobs per token a few µs apart, so workers (and a caller
// waiting for them) spin for a while before sleeping: a new job is then seen within a cache-line transfer
// (Benchmarks/kernels/pool_latency.sh; measured: docs/BENCHMARKS.md, 'Worker pool').

#include <pthread.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

enum {
    CK_POOL_MAX = 64,
    // Pause loops before a waiting thread sleeps: about 130 µs where a pause takes 32 ns (Zen 4), a few hundred µs
    // where a pause takes ~140 cycles (recent Intel); longer than the gaps between a decode step's jobs, short
    // against an idle pool's lifetime.
    CK_POOL_SPINS = 4096,
};

static struct {
    pthread_mutex_t run;    // one job at a time; a caller that finds it busy runs its chunks itself
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int workers;            // threads started so far
    int sleepers;           // workers blocked on `wake` (the caller broadcasts only when some are)
    int caller_sleeping;    // the caller blocked on `done`
    _Atomic unsigned long generation;
    _Atomic long finished;
    void (*fn)(void *, long);
    void *context;
    long chunks, next;
} ck_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
             PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/// Takes chunks of the current job until none are left; returns how many this thread ran. Called with lock held.
static long ck_pool_drain(void) {
    long ran = 0;
    while (ck_pool.next < ck_pool.chunks) {
        long chunk = ck_pool.next++;
        void (*fn)(void *, long) = ck_pool.fn;
        void *context = ck_pool.context;
        pthread_mutex_unlock(&ck_pool.lock);
        fn(context, chunk);
        pthread_mutex_lock(&ck_pool.lock);
        ran++;
    }
    return ran;
}

static void *ck_pool_worker(void *unused) {
    (void)unused;
    pthread_mutex_lock(&ck_pool.lock);
    unsigned long seen = atomic_load(&ck_pool.generation);
    for (;;) {
        if (atomic_load(&ck_pool.generation) == seen) {
            pthread_mutex_unlock(&ck_pool.lock);
            for (int spin = 0; spin < CK_POOL_SPINS && atomic_load_explicit(&ck_pool.generation,
                                                                              memory_order_relaxed) == seen; spin++)
                CK_PAUSE();
            pthread_mutex_lock(&ck_pool.lock);
            while (atomic_load(&ck_pool.generation) == seen) {
                ck_pool.sleepers++;
                pthread_cond_wait(&ck_pool.wake, &ck_pool.lock);
                ck_pool.sleepers--;
            }
        }
        seen = atomic_load(&ck_pool.generation);
        const long ran = ck_pool_drain();
        if (atomic_fetch_add(&ck_pool.finished, ran) + ran == ck_pool.chunks && ck_pool.caller_sleeping)
            pthread_cond_signal(&ck_pool.done);
    }
    return NULL;
}

void ck_pool_run(long chunks, void (*fn)(void *context, long chunk), void *context) {
    if (chunks <= 0) return;
    if (chunks == 1 || pthread_mutex_trylock(&ck_pool.run) != 0) {
        for (long c = 0; c < chunks; c++) fn(context, c);
        return;
    }
    pthread_mutex_lock(&ck_pool.lock);
    long wanted = chunks - 1 < CK_POOL_MAX ? chunks - 1 : CK_POOL_MAX;
    while (ck_pool.workers < wanted) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, ck_pool_worker, NULL) != 0) break;
        pthread_detach(thread);
        ck_pool.workers++;
    }
    ck_pool.fn = fn;
    ck_pool.context = context;
    ck_pool.chunks = chunks;
    ck_pool.next = 0;
    atomic_store(&ck_pool.finished, 0);
    atomic_fetch_add(&ck_pool.generation, 1);
    if (ck_pool.sleepers > 0) pthread_cond_broadcast(&ck_pool.wake);
    atomic_fetch_add(&ck_pool.finished, ck_pool_drain());
    if (atomic_load(&ck_pool.finished) < chunks) {
        // Workers still run their chunks: spin without the lock (they need it to finish), then sleep.
        pthread_mutex_unlock(&ck_pool.lock);
        for (int spin = 0; spin < CK_POOL_SPINS && atomic_load(&ck_pool.finished) < chunks; spin++) CK_PAUSE();
        pthread_mutex_lock(&ck_pool.lock);
        while (atomic_load(&ck_pool.finished) < chunks) {
            ck_pool.caller_sleeping = 1;
            pthread_cond_wait(&ck_pool.done, &ck_pool.lock);
            ck_pool.caller_sleeping = 0;
        }
    }
    pthread_mutex_unlock(&ck_pool.lock);
    pthread_mutex_unlock(&ck_pool.run);
}
