// Decode GEMV bandwidth beside a plain read loop, in one process: the fast-precision (integer) GEMV, the exact
// GEMV and a vector read loop over the same weight bytes, alternating, each run the median of R passes.
// Build and run with gemv_bandwidth.sh; arguments: threads repeats k weight-KiB format [activation rows]
// (format: 1 fp16, 3 int8, 4 int4). Weights of 128 MiB and more stream from DRAM; a few hundred KiB stay in L2.
#include "ckernels_gemv.h"
#include "ckernels_gemv_q8.h"
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long bytes, k, rows, row_bytes, passes;
static int format, n, variant;
static uint8_t *w;
static float *x, *y, x_scales[32];
static uint16_t *scales;
static int8_t *xq;
static int32_t x_sums[32];
static volatile long sink;

__attribute__((target("avx2"))) static void read_rows(long begin, long end) {
    const __m256i *p = (const __m256i *)(w + begin * row_bytes), *stop = (const __m256i *)(w + end * row_bytes);
    __m256i a = _mm256_setzero_si256(), b = a;
    for (; p + 1 < stop; p += 2) {
        a = _mm256_add_epi8(a, _mm256_load_si256(p));
        b = _mm256_add_epi8(b, _mm256_load_si256(p + 1));
    }
    sink += _mm256_extract_epi64(_mm256_add_epi8(a, b), 0);
}

typedef struct { long begin, end; } Range;

static void *worker(void *argument) {
    const Range *range = argument;
    for (long pass = 0; pass < passes; pass++) {
        if (variant == 0) {
            ck_gemv_q8_problem p = {format, xq, x_scales, x_sums, n, k, w, scales, 1, y, rows};
            ck_gemv_q8_on(p, range->begin, range->end, CK_ISA_AUTO);
        } else if (variant == 1) {
            ck_gemv_problem p = {format, x, n, k, w, scales, 1, y, rows};
            ck_gemv(p, range->begin, range->end, CK_ISA_AUTO);
        } else {
            read_rows(range->begin, range->end);
        }
    }
    return NULL;
}

static int ascending(const void *a, const void *b) {
    const double d = *(const double *)a - *(const double *)b;
    return d < 0 ? -1 : d > 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s threads repeats k weight-KiB format(1|3|4) [rows]\n", argv[0]);
        return 2;
    }
    const int threads = atoi(argv[1]), repeats = atoi(argv[2]);
    k = atol(argv[3]);
    bytes = atol(argv[4]) << 10;
    format = atoi(argv[5]);
    n = argc > 6 ? atoi(argv[6]) : 1;
    if (threads < 1 || threads > 64 || repeats < 1 || repeats > 100 || k < 64 || k % 64 || n < 1 || n > 32 ||
        (format != 1 && format != 3 && format != 4)) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    row_bytes = format == 4 ? k / 2 : format == 1 ? 2 * k : k;
    rows = bytes / row_bytes;
    passes = bytes >= (64l << 20) ? 4 : (256l << 20) / bytes;
    w = aligned_alloc(64, rows * row_bytes);
    for (long i = 0; i < rows * row_bytes; i++) w[i] = (uint8_t)(i * 2654435761u >> 13);
    if (format == 1)
        for (long i = 0; i < rows * k; i++) ((uint16_t *)w)[i] = 0x3c00 ^ (uint16_t)(i & 0x3ff);
    x = malloc(32 * k * sizeof(float));
    xq = malloc(32 * k);
    for (long i = 0; i < 32 * k; i++) x[i] = sinf((float)i);
    ck_gemv_q8_pack_x(x, n, k, 1, format == 4, xq, x_scales, x_sums);
    y = malloc(rows * 32 * sizeof(float));
    scales = malloc(rows * sizeof(uint16_t));
    for (long i = 0; i < rows; i++) scales[i] = 0x3c00;
    const char *names[3] = {"fast (integer) GEMV", "exact GEMV", "read loop"};
    double seconds[3][100];
    for (int r = 0; r < repeats; r++)
        for (variant = format == 1 ? 1 : 0; variant < 3; variant++) {
            pthread_t thread[64];
            Range range[64];
            const double start = now();
            for (int t = 0; t < threads; t++) {
                range[t] = (Range){rows * t / threads, rows * (t + 1) / threads};
                pthread_create(&thread[t], NULL, worker, &range[t]);
            }
            for (int t = 0; t < threads; t++) pthread_join(thread[t], NULL);
            seconds[variant][r] = now() - start;
        }
    for (variant = format == 1 ? 1 : 0; variant < 3; variant++) {
        qsort(seconds[variant], repeats, sizeof(double), ascending);
        const double moved = (double)passes * rows * row_bytes;
        printf("format %d, k %ld, %ld KiB, %d rows, %d threads: %-20s median %6.1f GB/s, best %6.1f\n", format, k,
               bytes >> 10, n, threads, names[variant], moved / seconds[variant][repeats / 2] * 1e-9,
               moved / seconds[variant][0] * 1e-9);
    }
    return 0;
}
