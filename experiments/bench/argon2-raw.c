/* Raw Argon2id time through libargon2's argon2_ctx, with a 32-byte secret, at the portal's
 * parameters: the floor for POST /login. Prints the median of N runs in milliseconds.
 * Usage: argon2-raw M_KIB T P RUNS */
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s M_KIB T P RUNS\n", argv[0]);
        return 2;
    }
    uint32_t m = (uint32_t)atoi(argv[1]), t = (uint32_t)atoi(argv[2]), p = (uint32_t)atoi(argv[3]);
    int runs = atoi(argv[4]);
    double *times = calloc((size_t)runs, sizeof(double));
    uint8_t out[32], salt[16], secret[32];
    char password[] = "correct horse battery staple 42";
    memset(salt, 0x5a, sizeof salt);
    memset(secret, 0x33, sizeof secret);
    for (int i = 0; i < runs; i++) {
        argon2_context context = {0};
        context.out = out; context.outlen = sizeof out;
        context.pwd = (uint8_t *)password; context.pwdlen = (uint32_t)strlen(password);
        context.salt = salt; context.saltlen = sizeof salt;
        context.secret = secret; context.secretlen = sizeof secret;
        context.t_cost = t; context.m_cost = m; context.lanes = p; context.threads = p;
        context.version = ARGON2_VERSION_13;
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int rc = argon2_ctx(&context, Argon2_id);
        clock_gettime(CLOCK_MONOTONIC, &end);
        if (rc != ARGON2_OK) {
            fprintf(stderr, "argon2: %s\n", argon2_error_message(rc));
            return 1;
        }
        times[i] = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    }
    qsort(times, (size_t)runs, sizeof(double), compare);
    printf("%.3f\n", times[runs / 2]);
    return 0;
}
