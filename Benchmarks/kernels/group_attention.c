// One decode step of grouped multi-query attention on one core: `heads` query heads sharing one key/value head of
// `total` cached tokens, computed per head (ck_attention_head, one row each: the shared rows read once per head)
// and per group (ck_attention_group: each row read once for all heads). Alternates the two, reports the median
// microseconds of each and their ratio. Usage: group_attention HEADS TOTAL [D] [HALF] [REPEATS]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ckernels_vector.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long heads = argc > 1 ? atol(argv[1]) : 8, total = argc > 2 ? atol(argv[2]) : 544;
    long d = argc > 3 ? atol(argv[3]) : 128;
    int half = argc > 4 ? atoi(argv[4]) : 0;
    int repeats = argc > 5 ? atoi(argv[5]) : 400;
    float *q = malloc(sizeof(float) * heads * d), *scores = malloc(sizeof(float) * heads * total);
    float *out = malloc(sizeof(float) * heads * d);
    size_t element = half ? 2 : 4;
    void *keys = malloc(element * total * d), *values = malloc(element * total * d);
    srand(1);
    for (long i = 0; i < heads * d; i++) q[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < total * d; i++) {
        float k = (float)rand() / (float)RAND_MAX - 0.5f, v = (float)rand() / (float)RAND_MAX - 0.5f;
        if (half) {
            _Float16 hk = (_Float16)k, hv = (_Float16)v;
            ((uint16_t *)keys)[i] = *(uint16_t *)&hk;
            ((uint16_t *)values)[i] = *(uint16_t *)&hv;
        } else {
            ((float *)keys)[i] = k;
            ((float *)values)[i] = v;
        }
    }
    double *per_head = malloc(sizeof(double) * repeats), *per_group = malloc(sizeof(double) * repeats);
    float scale = 0.088f;
    for (int r = 0; r < repeats; r++) {
        double start = now_us();
        for (long h = 0; h < heads; h++) {
            if (half)
                ck_attention_head_f16(q + h * d, 1, d, keys, values, total, scale, total - 1, 0, scores, out + h * d, d, 0);
            else
                ck_attention_head(q + h * d, 1, d, keys, values, total, scale, total - 1, 0, scores, out + h * d, d, 0);
        }
        double middle = now_us();
        ck_attention_group(q, heads, d, d, keys, values, total, scale, scores, out, d, half, 0);
        double end = now_us();
        per_head[r] = middle - start;
        per_group[r] = end - middle;
    }
    qsort(per_head, repeats, sizeof(double), compare);
    qsort(per_group, repeats, sizeof(double), compare);
    double a = per_head[repeats / 2], b = per_group[repeats / 2];
    printf("heads %ld, total %ld, d %ld, %s cache: per head %.1f us, per group %.1f us, ratio %.2f\n", heads, total, d,
           half ? "fp16" : "fp32", a, b, a / b);
    return 0;
}
