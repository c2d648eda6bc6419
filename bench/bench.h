/* Shared by the benchmarks: a monotonic clock and the BENCH line. */
#ifndef KT_BENCH_H
#define KT_BENCH_H

#include <stdio.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: on a shared machine, what the work itself costs, not
 * how long the scheduler let it wait. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints the line anyone can grep: ratio, target, and both absolute rates. */
static inline void bench_line(const char *name, double ratio, const char *op, double target,
                              double rate, double baseline)
{
    printf("BENCH %s ratio=%.3f target%s%.2f rate=%.0f/s baseline=%.0f/s\n", name, ratio, op,
           target, rate, baseline);
}

#endif
