/* ec_parallel_for (pool.c): every job index runs exactly once, on a thread
 * id in range, for pools of 1-4 threads, many job counts and grains, and
 * with threads, each thread runs its own contiguous share (thread t: jobs
 * [t n / T, (t + 1) n / T) for n = 4 T jobs of a chunk each) when none is
 * slowed: checked as at least one of 20 runs of sleeping jobs where every job
 * ran on its owner (a run can lose that to the scheduler, not all of them).
 * Also times a dispatch of empty work (`test_pool bench`).
 *
 *   test_pool [bench]    (built from pool.c and status.c by
 *                         tests/runtime/test_pool.py; ci/tsan.sh runs it under
 *                         ThreadSanitizer)
 * Exits 0 on success, 1 on any failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/kernel.h"
#include "../src/pool.h"

#define MAX_JOBS 1000

typedef struct ctx {
  atomic_int hits[MAX_JOBS];
  atomic_int bad_thread;
  int32_t threads;
} ctx;

static void count(void *vc, int64_t begin, int64_t end, int32_t thread) {
  ctx *c = vc;
  if (thread < 0 || thread >= c->threads || begin >= end) atomic_fetch_add(&c->bad_thread, 1);
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->hits[i], 1);
}

typedef struct owner_ctx {
  atomic_int ran_on[16];
} owner_ctx;

static void note_owner(void *vc, int64_t begin, int64_t end, int32_t thread) {
  owner_ctx *c = vc;
  for (int64_t i = begin; i < end; i++) {
    atomic_store(&c->ran_on[i], thread);
    nanosleep(&(struct timespec){0, 200000}, NULL); /* 0.2 ms: both threads get going */
  }
}

/* Whether some run of 4 T one-chunk jobs ran each on its owner. */
static int owners_kept(ec_exec *ex, int32_t threads) {
  for (int rep = 0; rep < 20; rep++) {
    static owner_ctx c;
    ec_parallel_for(ex, 4 * threads, 1, note_owner, &c);
    int ok = 1;
    for (int32_t i = 0; i < 4 * threads; i++) ok &= atomic_load(&c.ran_on[i]) == i / 4;
    if (ok) return 1;
  }
  return 0;
}

static void nothing(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)vc, (void)begin, (void)end, (void)thread;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check(int32_t threads) {
  ec_exec ex;
  memset(&ex, 0, sizeof ex);
  if (threads > 1 && ec_pool_create(threads, &ex.pool) != EC_OK) {
    fprintf(stderr, "test_pool: cannot create a pool of %d\n", threads);
    return 1;
  }
  int fails = 0;
  static ctx c;
  const int64_t ns[] = {0, 1, 2, 3, 5, 7, 8, 9, 16, 31, 64, 100, 257, 999, MAX_JOBS};
  const int64_t grains[] = {0, 1, 2, 3, 7, 64, 2000};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof grains / sizeof *grains; b++)
      for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < MAX_JOBS; i++) atomic_store(&c.hits[i], 0);
        atomic_store(&c.bad_thread, 0);
        c.threads = threads;
        ec_parallel_for(&ex, ns[a], grains[b], count, &c);
        int ok = atomic_load(&c.bad_thread) == 0;
        for (int64_t i = 0; i < MAX_JOBS; i++)
          ok &= atomic_load(&c.hits[i]) == (i < ns[a] ? 1 : 0);
        if (!ok && fails++ < 5)
          fprintf(stderr, "test_pool: %d threads, n %lld, grain %lld: a job ran %s\n", threads,
                  (long long)ns[a], (long long)grains[b], "not exactly once");
      }
  if (ec_parallel_threads(&ex) != (threads > 1 ? threads : 1)) fails++;
  if (!owners_kept(&ex, threads) && fails++ == 0)
    fprintf(stderr, "test_pool: %d threads: no run kept every job on its owner\n", threads);
  ec_pool_free(ex.pool);
  return fails;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) {
    for (int32_t t = 1; t <= 2; t++) {
      ec_exec ex;
      memset(&ex, 0, sizeof ex);
      if (t > 1 && ec_pool_create(t, &ex.pool) != EC_OK) return 1;
      const int iters = 200000;
      double best = 1e9;
      for (int r = 0; r < 5; r++) {
        const double t0 = now_s();
        for (int i = 0; i < iters; i++) ec_parallel_for(&ex, 64, 1, nothing, NULL);
        const double dt = (now_s() - t0) / iters;
        best = dt < best ? dt : best;
      }
      printf("threads %d: %.3f us per dispatch of 64 empty jobs\n", t, best * 1e6);
      ec_pool_free(ex.pool);
    }
    return 0;
  }
  int fails = 0;
  for (int32_t t = 1; t <= 4; t++) fails += check(t);
  if (fails) return 1;
  printf("test_pool: ok\n");
  return 0;
}
