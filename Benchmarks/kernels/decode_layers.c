// The decode GEMVs of one token through the ~1B model's layers (Benchmarks/configs/glm-1b.json): 16 layers x
// {QKV 6144 x 2048, dense 2048 x 2048, h->4h 11264 x 2048, 4h->h 2048 x 5632}, each its own allocation (so the
// weights stream from DRAM as in the model), each split over the worker pool (ck_pool_run) as ComputeThreads
// splits it, with the activation quantised before every product. Unlike gemv_bandwidth.sh (one large matrix) this
// includes the per-product costs: waking the pool, row-loop overheads, short streams.
// Build and run with decode_layers.sh; arguments: format (3 int8, 4 int4; fast precision) chunks repeats.
#include "ckernels_gemv_q8.h"
#include "ckernels_pool.h"
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
    long rows;
    int chunks;
} Job;

static void run_chunk(void *context, long chunk) {
    const Job *job = context;
    ck_gemv_q8_on(job->problem, job->rows * chunk / job->chunks, job->rows * (chunk + 1) / job->chunks, 0);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s format(3|4) chunks repeats\n", argv[0]);
        return 2;
    }
    const int format = atoi(argv[1]), chunks = atoi(argv[2]), repeats = atoi(argv[3]);
    if ((format != 3 && format != 4) || chunks < 1 || chunks > 64 || repeats < 1) {
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
            const long rows = shapes[m][0], k = shapes[m][1], row_bytes = format == 4 ? k / 2 : k;
            w[l][m] = aligned_alloc(64, rows * row_bytes);
            for (long i = 0; i < rows * row_bytes; i++) w[l][m][i] = (uint8_t)(i * 2654435761u >> 13);
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
                ck_gemv_q8_pack_x(x, 1, k, 1, format == 4, xq, &x_scale, &x_sum);
                Job job = {{format, xq, &x_scale, &x_sum, 1, k, w[l][m], scales[l][m], 1, y, rows}, rows, chunks};
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
