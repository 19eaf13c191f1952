#include "ckernels_pool.h"

// A persistent worker pool for ck_pool_run. Measured on the 2-core Zen 4: DispatchQueue.concurrentPerform often ran
// both chunks of a GEMV on one thread (2 threads as slow as 1 for int8/int4), so ComputeThreads uses this instead.

#include <pthread.h>

enum { CK_POOL_MAX = 64 };

static struct {
    pthread_mutex_t run;    // one job at a time; a caller that finds it busy runs its chunks itself
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int workers;            // threads started so far
    unsigned long generation;
    void (*fn)(void *, long);
    void *context;
    long chunks, next, finished;
} ck_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
             PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0};

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
    unsigned long seen = ck_pool.generation;
    for (;;) {
        while (ck_pool.generation == seen) pthread_cond_wait(&ck_pool.wake, &ck_pool.lock);
        seen = ck_pool.generation;
        ck_pool.finished += ck_pool_drain();
        if (ck_pool.finished == ck_pool.chunks) pthread_cond_signal(&ck_pool.done);
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
    ck_pool.finished = 0;
    ck_pool.generation++;
    pthread_cond_broadcast(&ck_pool.wake);
    ck_pool.finished += ck_pool_drain();
    while (ck_pool.finished < ck_pool.chunks) pthread_cond_wait(&ck_pool.done, &ck_pool.lock);
    pthread_mutex_unlock(&ck_pool.lock);
    pthread_mutex_unlock(&ck_pool.run);
}
