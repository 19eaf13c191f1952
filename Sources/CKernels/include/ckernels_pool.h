#ifndef CKERNELS_POOL_H
#define CKERNELS_POOL_H
#ifdef __cplusplus
extern "C" {
#endif

/// Runs `fn(context, c)` for every `c < chunks` on a persistent pool of worker threads plus the caller, and returns
/// when all have finished. One job runs at a time: a caller that finds the pool busy (another thread's job, or a
/// nested call) runs its chunks itself, in order. Workers are started on first need and live for the process.
void ck_pool_run(long chunks, void (*fn)(void *context, long chunk), void *context);

#ifdef __cplusplus
}
#endif
#endif
