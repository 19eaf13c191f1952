// The decode GEMVs of one token through the ~1B model's layers (Benchmarks/configs/glm-1b.json): 16 layers x
// {QKV 6144 x 2048, dense 2048 x 2048, h->4h 11264 x 2048, 4h->h 2048 x 5632}, each its own allocation (so the
// weights stream from DRAM as in the model), each split over the worker pool (ck_pool_run) as ComputeThreads
// splits it, with the activation quantised before every product. Unlike gemv_bandwidth.sh (one large matrix) this
// includes the per-product costs: waking the pool, row-loop overheads, short streams.
// Build and run with decode_layers.sh; arguments: format chunks repeats, format 3 int8 or 4 int4 (fast precision),
// 1 fp16 (exact GEMV), or 0: a plain read loop over the fp16 weights through the same pool calls (the per-product
// costs without the arithmetic, the bound for format 1).
#include "ckernels_gemv.h"
#include "ckernels_gemv_q8.h"
#include "ckernels_pool.h"
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    ck_gemv_q8_problem problem;
    ck_gemv_problem exact;
    int format;
    long rows;
    int chunks;
} Job;

static volatile long sink;

__attribute__((target("avx2"))) static void read_rows(const ck_gemv_problem *p, long begin, long end) {
    const __m256i *q = (const __m256i *)((const uint16_t *)p->w + begin * p->k);
    const __m256i *stop = (const __m256i *)((const uint16_t *)p->w + end * p->k);
    __m256i a = _mm256_setzero_si256(), b = a;
    for (; q + 1 < stop; q += 2) {
        a = _mm256_xor_si256(a, _mm256_load_si256(q));
        b = _mm256_xor_si256(b, _mm256_load_si256(q + 1));
    }
    sink += _mm256_extract_epi64(_mm256_xor_si256(a, b), 0);
}

static void run_chunk(void *context, long chunk) {
    const Job *job = context;
    const long begin = job->rows * chunk / job->chunks, end = job->rows * (chunk + 1) / job->chunks;
    if (job->format == 0) read_rows(&job->exact, begin, end);
    else if (job->format == 1) ck_gemv(job->exact, begin, end, 0);
    else ck_gemv_q8_on(job->problem, begin, end, 0);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s format(0|1|3|4) chunks repeats\n", argv[0]);
        return 2;
    }
    const int format = atoi(argv[1]), chunks = atoi(argv[2]), repeats = atoi(argv[3]);
    if ((format != 0 && format != 1 && format != 3 && format != 4) || chunks < 1 || chunks > 64 || repeats < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (!ck_gemv_q8_resolve_isa(0)) {
        fprintf(stderr, "no AVX2 or AVX512-VNNI integer path on this CPU\n");
        return 1;
    }
    const long shapes[4][2] = {{6144, 2048}, {2048, 2048}, {11264, 2048}, {2048, 5632}};
    uint8_t *w[16][4];
    uint16_t *scales[16][4];
    double bytes = 0;
    for (int l = 0; l < 16; l++)
        for (int m = 0; m < 4; m++) {
            const long rows = shapes[m][0], k = shapes[m][1];
            const long row_bytes = format == 4 ? k / 2 : format <= 1 ? 2 * k : k;
            w[l][m] = aligned_alloc(64, rows * row_bytes);
            for (long i = 0; i < rows * row_bytes; i++) w[l][m][i] = (uint8_t)(i * 2654435761u >> 13);
            if (format <= 1)  // fp16: keep every value finite (exponent below 31)
                for (long i = 1; i < rows * row_bytes; i += 2) w[l][m][i] &= 0x3f;
            scales[l][m] = malloc(rows * sizeof(uint16_t));
            for (long i = 0; i < rows; i++) scales[l][m][i] = 0x3c00;
            bytes += (double)rows * row_bytes;
        }
    float *x = malloc(5632 * sizeof(float)), *y = malloc(11264 * sizeof(float)), x_scale;
    int8_t *xq = aligned_alloc(64, 5632);
    int32_t x_sum;
    for (int i = 0; i < 5632; i++) x[i] = sinf((float)i);
    double best = 1e30, total = 0;
    for (int r = 0; r < repeats; r++) {
        const double start = now();
        for (int l = 0; l < 16; l++)
            for (int m = 0; m < 4; m++) {
                const long rows = shapes[m][0], k = shapes[m][1];
                Job job = {.format = format, .rows = rows, .chunks = chunks};
                if (format >= 3) {
                    ck_gemv_q8_pack_x(x, 1, k, 1, format == 4, xq, &x_scale, &x_sum);
                    job.problem = (ck_gemv_q8_problem){format, xq, &x_scale, &x_sum, 1, k, w[l][m], scales[l][m],
                                                       1, y, rows};
                } else {
                    job.exact = (ck_gemv_problem){CK_GEMV_F16, x, 1, k, w[l][m], NULL, 1, y, rows};
                }
                ck_pool_run(chunks, run_chunk, &job);
            }
        const double seconds = now() - start;
        best = seconds < best ? seconds : best;
        total += seconds;
    }
    printf("format %d, %d chunks: %.1f MB per token, best %.2f ms (%.1f GB/s), mean %.2f ms (%.1f GB/s)\n", format,
           chunks, bytes * 1e-6, best * 1e3, bytes / best * 1e-9, total / repeats * 1e3,
           bytes / (total / repeats) * 1e-9);
    return 0;
}
