// The exact compact-weight GEMM (ck_gemm_fma) beside the exact GEMV (ck_gemv) and OpenBLAS sgemm on one shape, in one
// process: GFLOP/s of each, alternating, median and best of R runs, and the largest difference between the GEMM and
// sgemm relative to the largest |y|. Build and run with gemm_rate.sh; arguments: threads repeats n k out format [isa]
// (format: 0 fp32, 1 fp16, 2 bf16, 3 int8, 4 int4; isa: 0 best, 2 AVX2, 3 AVX-512).
#include "ckernels_gemm.h"
#include "ckernels_gemm_fma.h"
#include "ckernels_gemv.h"
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static ck_gemv_problem problem;
static float *packed;
/// GEMM_RATE_VNNI=1 times the fast-precision int8 GEMM (vpdpbusd, activations quantised per row) instead of the
/// exact GEMM, for int8 and int4 weights; GEMM_RATE_VNNI=avx2 its AVX2 twin (vpmaddubsw).
static int vnni, vnni_avx2;
static uint32_t *vnni_packed;
static float *vnni_scales;
static int isa, threads;
static long column_block;

typedef struct { int index; } Job;

static void *columns(void *argument) {
    const int t = ((Job *)argument)->index;
    if (vnni_avx2) {
        const long panels = (problem.ldy + CK_GEMM_AVX2_COLUMN_BLOCK - 1) / CK_GEMM_AVX2_COLUMN_BLOCK;
        const long begin = panels * t / threads * CK_GEMM_AVX2_COLUMN_BLOCK;
        const long end = panels * (t + 1) / threads * CK_GEMM_AVX2_COLUMN_BLOCK;
        ck_gemm_i8_avx2_columns(vnni_packed, vnni_scales, problem.n, problem.k, 1, problem.w,
                                problem.format == CK_GEMV_I4, problem.scales, begin,
                                end < problem.ldy ? end : problem.ldy, problem.y, problem.ldy);
        return NULL;
    }
    if (vnni) {
        const long panels = (problem.ldy + CK_GEMM_COLUMN_BLOCK - 1) / CK_GEMM_COLUMN_BLOCK;
        const long begin = panels * t / threads * CK_GEMM_COLUMN_BLOCK;
        const long end = panels * (t + 1) / threads * CK_GEMM_COLUMN_BLOCK;
        ck_gemm_i8_columns(vnni_packed, vnni_scales, problem.n, problem.k, 1, problem.w, problem.format == CK_GEMV_I4,
                           problem.scales, begin, end < problem.ldy ? end : problem.ldy, problem.y, problem.ldy);
        return NULL;
    }
    const long panels = (problem.ldy + column_block - 1) / column_block;
    const long begin = panels * t / threads * column_block, end = panels * (t + 1) / threads * column_block;
    ck_gemm_fma_columns(problem, packed, begin, end < problem.ldy ? end : problem.ldy, isa);
    return NULL;
}

static void *gemv(void *argument) {
    const int t = ((Job *)argument)->index;
    const long blocks = (problem.ldy + 3) / 4;
    const long begin = blocks * t / threads * 4, end = blocks * (t + 1) / threads * 4;
    ck_gemv(problem, begin, end < problem.ldy ? end : problem.ldy, CK_ISA_AUTO);
    return NULL;
}

static void *pack(void *argument) {
    const int t = ((Job *)argument)->index;
    if (vnni_avx2) {
        const long blocks = (problem.n + CK_GEMM_AVX2_ROW_BLOCK - 1) / CK_GEMM_AVX2_ROW_BLOCK;
        ck_gemm_i8_avx2_pack_x(problem.x, problem.n, problem.k, 1, blocks * t / threads,
                               blocks * (t + 1) / threads, vnni_packed, vnni_scales);
        return NULL;
    }
    if (vnni) {
        const long blocks = (problem.n + CK_GEMM_ROW_BLOCK - 1) / CK_GEMM_ROW_BLOCK;
        ck_gemm_i8_pack_x(problem.x, problem.n, problem.k, 1, blocks * t / threads, blocks * (t + 1) / threads,
                          vnni_packed, vnni_scales);
        return NULL;
    }
    const long blocks = ck_gemm_fma_row_blocks(problem.n, isa);
    ck_gemm_fma_pack_x(problem.x, problem.n, problem.k, blocks * t / threads, blocks * (t + 1) / threads, packed,
                       isa);
    return NULL;
}

static void run_threads(void *(*body)(void *)) {
    pthread_t handles[64];
    Job jobs[64];
    for (int t = 1; t < threads; t++) {
        jobs[t].index = t;
        pthread_create(&handles[t], NULL, body, &jobs[t]);
    }
    jobs[0].index = 0;
    body(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(handles[t], NULL);
}

static int compare(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: gemm_rate threads repeats n k out format [isa]\n");
        return 2;
    }
    threads = atoi(argv[1]);
    const int repeats = atoi(argv[2]);
    const long n = atol(argv[3]), k = atol(argv[4]), out = atol(argv[5]);
    const int format = atoi(argv[6]);
    isa = ck_gemm_fma_resolve_isa(argc > 7 ? atoi(argv[7]) : 0);
    column_block = ck_gemm_fma_column_block(isa);
    srand(7);
    float *x = malloc(sizeof(float) * n * k), *wide = malloc(sizeof(float) * out * k);
    float *y = malloc(sizeof(float) * n * out), *reference = malloc(sizeof(float) * n * out);
    packed = malloc(sizeof(float) * ck_gemm_fma_packed_x_count(n, k));
    vnni = getenv("GEMM_RATE_VNNI") != NULL && (format == 3 || format == 4);
    vnni_avx2 = vnni && strcmp(getenv("GEMM_RATE_VNNI"), "avx2") == 0;
    vnni_packed = malloc(sizeof(uint32_t) * ck_gemm_i8_packed_x_count(n, k, 1));
    vnni_scales = malloc(sizeof(float) * (n + CK_GEMM_ROW_BLOCK));
    if (ck_gemm_i8_avx2_packed_x_count(n, k, 1) > ck_gemm_i8_packed_x_count(n, k, 1)) {
        vnni_packed = realloc(vnni_packed, sizeof(uint32_t) * ck_gemm_i8_avx2_packed_x_count(n, k, 1));
    }
    for (long i = 0; i < n * k; i++) x[i] = (float)(rand() / 2147483648.0) - 0.5f;
    void *w = malloc((size_t)out * k * 4);
    uint16_t *scales = malloc(sizeof(uint16_t) * out);
    for (long r = 0; r < out; r++) {
        scales[r] = 0x2000 + (uint16_t)(r % 512);  // fp16 scales near 0.008
        const float scale = ldexpf(1.0f + (r % 512) / 1024.0f, -7);
        for (long e = 0; e < k; e++) {
            const int q = rand() % 15 - 7;
            const float value = (float)(rand() / 2147483648.0) - 0.5f;
            switch (format) {
            case 0: ((float *)w)[r * k + e] = value; wide[r * k + e] = value; break;
            case 1: {
                const _Float16 h = (_Float16)value;
                memcpy((uint16_t *)w + r * k + e, &h, 2);
                wide[r * k + e] = (float)h;
                break;
            }
            case 2: {
                uint32_t bits;
                memcpy(&bits, &value, 4);
                ((uint16_t *)w)[r * k + e] = (uint16_t)(bits >> 16);
                bits &= 0xFFFF0000u;
                memcpy(&wide[r * k + e], &bits, 4);
                break;
            }
            case 3: ((int8_t *)w)[r * k + e] = (int8_t)(q * 9); wide[r * k + e] = (float)(q * 9) * scale; break;
            case 4: {
                uint8_t *byte = (uint8_t *)w + r * (k / 2) + e / 2;
                const uint8_t nibble = (uint8_t)(q & 0x0F);
                *byte = (e & 1) ? (uint8_t)((*byte & 0xF0) | nibble) : (uint8_t)((*byte & 0x0F) | (nibble << 4));
                wide[r * k + e] = (float)q * scale;
                break;
            }
            }
        }
    }
    problem = (ck_gemv_problem){(ck_gemv_format)format, x, n, k, w, scales, 1, y, out};
    openblas_set_num_threads(threads);
    double ours[256], blas[256], decode[256];
    float *split = malloc(sizeof(float) * n * k);
    if (format == 4) ck_gemv_split_pairs(x, n, k, split);
    const int skip_sgemm = getenv("GEMM_RATE_SKIP_SGEMM") != NULL;  // for profiling the kernel alone
    for (int run = 0; run < repeats && run < 256; run++) {
        double start = now();
        run_threads(pack);
        run_threads(columns);
        ours[run] = now() - start;
        problem.x = format == 4 ? split : x;  // the int4 GEMV reads the split activation layout
        problem.y = reference;
        start = now();
        run_threads(gemv);
        decode[run] = now() - start;
        problem.x = x;
        problem.y = y;
        start = now();
        if (skip_sgemm) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, k, 1, x, k, wide, k, 0, reference, out);
        blas[run] = now() - start;
    }
    if (skip_sgemm) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, k, 1, x, k, wide, k, 0, reference, out);
    }
    double largest = 0, difference = 0;
    for (long i = 0; i < n * out; i++) {
        largest = fmax(largest, fabs(reference[i]));
        difference = fmax(difference, fabs(reference[i] - y[i]));
    }
    qsort(ours, repeats, sizeof(double), compare);
    qsort(blas, repeats, sizeof(double), compare);
    qsort(decode, repeats, sizeof(double), compare);
    const double flops = 2.0 * n * k * out;
    printf("%sisa %d format %d n %ld k %ld out %ld: exact GEMM %.1f (best %.1f) GFLOP/s, exact GEMV %.1f (best %.1f), "
           "sgemm (fp32 weights) %.1f (best %.1f), max |diff| / max |y| %.2e\n",
           vnni_avx2 ? "vpmaddubsw GEMM (in the exact GEMM's columns) "
           : vnni    ? "vpdpbusd GEMM (in the exact GEMM's columns) "
                     : "",
           isa, format, n, k, out,
           flops / ours[repeats / 2] * 1e-9, flops / ours[0] * 1e-9,
           flops / decode[repeats / 2] * 1e-9, flops / decode[0] * 1e-9, flops / blas[repeats / 2] * 1e-9,
           flops / blas[0] * 1e-9, difference / largest);
    return 0;
}
