// How steady this host's memory bandwidth is: a STREAM triad (a = b + 3 c, 12 bytes per element, as `bench`
// measures it) and a read-only pass over b and c (8 bytes per element, as a decode GEMV reads), alternating on
// the same arrays, one line per pair. Decode ratios (effective GB/s / triad) only mean something while these two
// agree and stay put; on the 2-core KVM guest of 2026-12-03 both jumped together from ~33 to ~58 GB/s within
// seconds. Build and run with bandwidth_drift.sh; arguments: [threads (2)] [pairs (20)] [MiB per array (256)].
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long count;
static float *a, *b, *c;
static volatile long sink;
static int read_only;

typedef struct { long begin, end; } Range;

__attribute__((target("avx2"))) static void read_range(const float *array, long begin, long end) {
    const __m256i *p = (const __m256i *)(array + begin), *stop = (const __m256i *)(array + end);
    __m256i x = _mm256_setzero_si256(), y = x;
    for (; p + 1 < stop; p += 2) {
        x = _mm256_add_epi8(x, _mm256_load_si256(p));
        y = _mm256_add_epi8(y, _mm256_load_si256(p + 1));
    }
    sink += _mm256_extract_epi64(_mm256_add_epi8(x, y), 0);
}

static void *work(void *argument) {
    const Range *r = argument;
    if (read_only) {
        read_range(b, r->begin, r->end);
        read_range(c, r->begin, r->end);
    } else {
        for (long i = r->begin; i < r->end; i++) a[i] = b[i] + 3.0f * c[i];
    }
    return NULL;
}

static double pass(int threads, int read) {
    read_only = read;
    pthread_t workers[64];
    Range ranges[64];
    for (int t = 0; t < threads; t++) {
        // Ranges on 64-byte boundaries (16 floats) so the read loop's aligned loads stay aligned.
        ranges[t] = (Range){count / 16 * t / threads * 16, t + 1 == threads ? count : count / 16 * (t + 1) / threads * 16};
    }
    double start = now();
    for (int t = 1; t < threads; t++) pthread_create(&workers[t], NULL, work, &ranges[t]);
    work(&ranges[0]);
    for (int t = 1; t < threads; t++) pthread_join(workers[t], NULL);
    return now() - start;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, pairs = argc > 2 ? atoi(argv[2]) : 20;
    long mib = argc > 3 ? atol(argv[3]) : 256;
    if (threads < 1 || threads > 64 || pairs < 1 || mib < 1) {
        fprintf(stderr, "usage: bandwidth_drift [threads 1-64] [pairs] [MiB per array]\n");
        return 2;
    }
    count = mib << 18;
    a = aligned_alloc(64, count * 4);
    b = aligned_alloc(64, count * 4);
    c = aligned_alloc(64, count * 4);
    if (!a || !b || !c) {
        fprintf(stderr, "bandwidth_drift: cannot allocate 3 x %ld MiB\n", mib);
        return 1;
    }
    for (long i = 0; i < count; i++) a[i] = 0, b[i] = 1, c[i] = 2;  // first touch, untimed
    pass(threads, 0);
    printf("%d threads, 3 x %ld MiB\n  s    triad GB/s   read GB/s\n", threads, mib);
    double start = now();
    for (int i = 0; i < pairs; i++) {
        double triad = pass(threads, 0), read = pass(threads, 1);
        printf("%5.1f %10.1f %11.1f\n", now() - start, 12.0 * count / triad / 1e9, 8.0 * count / read / 1e9);
    }
    return 0;
}
