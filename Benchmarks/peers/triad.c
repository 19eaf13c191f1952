/* STREAM triad a[i] = b[i] + s * c[i] over three float arrays, as `glmcluster bench` measures it
 * (Sources/Benchmarking/MachineLimits.swift): arrays of MIB MiB each (default 256), split over the OpenMP
 * threads, first touched by the threads that stream them, one warm-up pass then PASSES timed passes (default 3),
 * 12 bytes per element (no write-allocate traffic counted). Prints {"triad_gb_per_s": median, "passes": [...]}.
 *
 * build: cc -O3 -march=native -fopenmp triad.c -o triad;  run: OMP_NUM_THREADS=2 ./triad [MIB] [PASSES] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 256;
    int passes = argc > 2 ? atoi(argv[2]) : 3;
    if (mib < 1 || passes < 1 || passes > 100) return 2;
    long n = mib * (1L << 20) / 4;
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
    if (!a || !b || !c) return 1;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = 0;
        b[i] = 1;
        c[i] = 2;
    }
    double rates[101];
    for (int p = 0; p <= passes; p++) {
        double start = now();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + 3.0f * c[i];
        double seconds = now() - start;
        if (p > 0) rates[p - 1] = 12.0 * n / seconds / 1e9;
    }
    double sorted[100];
    for (int p = 0; p < passes; p++) sorted[p] = rates[p];
    qsort(sorted, passes, sizeof(double), compare);
    double median = passes % 2 ? sorted[passes / 2] : (sorted[passes / 2 - 1] + sorted[passes / 2]) / 2;
    printf("{\"triad_gb_per_s\": %.3f, \"array_mib\": %ld, \"check\": %.1f, \"passes\": [", median, mib, a[n / 2]);
    for (int p = 0; p < passes; p++) printf("%s%.3f", p ? ", " : "", rates[p]);
    printf("]}\n");
    free(a);
    free(b);
    free(c);
    return 0;
}
