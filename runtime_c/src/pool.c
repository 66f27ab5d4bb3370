/* Thread pool for ec_parallel_for.
 *
 * Why it looks like this:
 * - Affinity first, then stealing. Each thread owns a contiguous share of
 *   the jobs (as equal as whole grains allow), the same share every run, so the
 *   same core writes the same part of an output run after run and (with
 *   consecutive layers split alike) reads what it wrote; a dynamic
 *   free-for-all moved those lines between the cores' caches every run
 *   (MobileNetV2's 14x14 expand 1x1 convs: 12% of their 2-thread time).
 *   Shares are claimed in chunks (a quarter of a share), the owner's first;
 *   a thread that has finished its share claims chunks from the others'
 *   (one atomic counter per share), so a thread that shares its core with
 *   another process (or just runs slower) still takes fewer chunks instead of
 *   making everyone wait for its fixed half.
 * - The caller waits only for threads that joined. A worker that wakes late
 *   finds the job closed and goes back to waiting; it never touches a job it
 *   did not join. So a descheduled worker costs nothing unless it holds a
 *   chunk.
 * - Spin, then sleep. The gap between two instructions is a few
 *   microseconds; a condition-variable wake-up costs tens. Workers spin on the
 *   job word for SPIN_NS before blocking, the caller likewise on the joined
 *   count, so back-to-back instructions rarely enter the kernel. 5 ms, not
 *   100 us: a small model has gaps over 100 us between parallel instructions
 *   (ShuffleNet: ~1 sleep per run alone), and where wakes are slow or land on
 *   the caller's CPU (2-core VM, after onnxruntime ran in the process: ~15
 *   wakes per run, each preempting the caller) a 2.0 ms run took 3.3-4.1 ms;
 *   with 5 ms the worker stays awake through a run and from one run to the
 *   next (2.1-2.4 ms). It burns at most 5 ms of a core after a run ends
 *   (onnxruntime's workers spin ~35 ms).
 *
 * The job word `state` is generation << 1 | closed. A worker joins a job by
 * incrementing `joined` and then re-reading `state`: if it is still the open
 * generation it saw, the caller (which closes by setting the bit, then reads
 * `joined`) is guaranteed to wait for it (both sides use sequentially
 * consistent atomics: each sees the other's write or the other sees its own).
 * The job fields are written before `state` is published, and read only after
 * a successful join, so they never race. Dispatching allocates nothing. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define SPIN_NS 5000000 /* 5 ms */
#define CHUNKS_PER_THREAD 4 /* stealing granularity */

struct ec_pool {
  int32_t threads; /* including the calling thread */
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  atomic_uint_fast64_t state; /* generation << 1 | closed */
  atomic_int joined;          /* workers inside the current job */
  atomic_int sleepers;        /* workers blocked (or about to) on `wake` */
  atomic_bool caller_sleeping;
  atomic_bool stop;
  /* the current job: written by the caller before `state` opens it */
  ec_range_fn fn;
  void *ctx;
  struct share *shares; /* one per thread */
};

/* Thread t's jobs [next, end): claimed by it, then by thieves; a line each. */
typedef struct share {
  _Alignas(64) atomic_int_fast64_t next; /* first unclaimed job index */
  int64_t end, chunk;
} share;

typedef struct worker_arg {
  ec_pool *pool;
  int32_t id;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims chunks of its own share until none are left, then of the others'. */
static void run_chunks(ec_pool *p, int32_t id) {
  for (int32_t k = 0; k < p->threads; k++) {
    share *sh = &p->shares[(id + k) % p->threads];
    const int64_t end = sh->end, chunk = sh->chunk;
    for (;;) {
      const int64_t begin = atomic_fetch_add(&sh->next, chunk);
      if (begin >= end) break;
      p->fn(p->ctx, begin, begin + chunk < end ? begin + chunk : end, id);
    }
  }
}

static bool is_new_open_job(uint64_t s, uint64_t seen_generation) {
  return (s >> 1) != seen_generation && (s & 1u) == 0;
}

/* Waits until a job newer than seen_generation is open (or stop), spinning
 * first. Returns its state word. */
static uint64_t wait_for_job(ec_pool *p, uint64_t seen_generation) {
  int64_t deadline = 0;
  for (uint32_t i = 0;; i++) {
    const uint64_t s = atomic_load(&p->state);
    if (is_new_open_job(s, seen_generation) || atomic_load(&p->stop)) return s;
    if ((i & 63u) == 63u) {
      const int64_t t = now_ns();
      if (deadline == 0) deadline = t + SPIN_NS;
      else if (t > deadline) break;
    }
    cpu_relax();
  }
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->sleepers, 1);
  uint64_t s;
  while (!is_new_open_job(s = atomic_load(&p->state), seen_generation) &&
         !atomic_load(&p->stop))
    pthread_cond_wait(&p->wake, &p->mu);
  atomic_fetch_sub(&p->sleepers, 1);
  pthread_mutex_unlock(&p->mu);
  return s;
}

static void leave_job(ec_pool *p) {
  if (atomic_fetch_sub(&p->joined, 1) == 1 && atomic_load(&p->caller_sleeping)) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
  }
}

static void *worker_main(void *arg) {
  worker_arg *wa = arg;
  ec_pool *p = wa->pool;
  const int32_t id = wa->id;
  free(wa);
  uint64_t seen_generation = 0;
  for (;;) {
    const uint64_t s = wait_for_job(p, seen_generation);
    if (atomic_load(&p->stop)) break;
    seen_generation = s >> 1;
    atomic_fetch_add(&p->joined, 1);
    if (atomic_load(&p->state) == s) run_chunks(p, id); /* joined in time */
    leave_job(p);
  }
  return NULL;
}

ec_status ec_pool_create(int32_t threads, ec_pool **out_pool) {
  ec_pool *p = calloc(1, sizeof *p);
  if (!p) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  p->threads = threads;
  p->workers = calloc((size_t)threads, sizeof *p->workers);
  p->shares = aligned_alloc(64, (size_t)threads * sizeof *p->shares);
  if (!p->workers || !p->shares) {
    free(p->workers);
    free(p->shares);
    free(p);
    return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  atomic_init(&p->state, 1u); /* generation 0, closed */
  atomic_init(&p->joined, 0);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->caller_sleeping, false);
  atomic_init(&p->stop, false);
  for (int32_t i = 0; i < threads; i++) atomic_init(&p->shares[i].next, 0);
  for (int32_t i = 1; i < threads; i++) {
    worker_arg *wa = malloc(sizeof *wa);
    if (wa) {
      wa->pool = p;
      wa->id = i;
    }
    if (!wa || pthread_create(&p->workers[i], NULL, worker_main, wa) != 0) {
      free(wa);
      p->threads = i; /* only these exist */
      ec_pool_free(p);
      return ec_set_error(EC_ERR_NO_MEMORY, "cannot start worker thread %d", i);
    }
  }
  *out_pool = p;
  return EC_OK;
}

void ec_pool_free(ec_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, true);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int32_t i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  free(p->workers);
  free(p->shares);
  free(p);
}

/* Closes the current job and waits for the workers that joined it. */
static void close_job(ec_pool *p, uint64_t open_state) {
  atomic_store(&p->state, open_state | 1u);
  int64_t deadline = 0;
  for (uint32_t i = 0; atomic_load(&p->joined) > 0; i++) {
    if ((i & 63u) == 63u) {
      const int64_t t = now_ns();
      if (deadline == 0) deadline = t + SPIN_NS;
      else if (t > deadline) break;
    }
    cpu_relax();
  }
  if (atomic_load(&p->joined) == 0) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->caller_sleeping, true);
  while (atomic_load(&p->joined) > 0) pthread_cond_wait(&p->done, &p->mu);
  atomic_store(&p->caller_sleeping, false);
  pthread_mutex_unlock(&p->mu);
}

int32_t ec_parallel_threads(const ec_exec *exec) {
  return exec->pool ? exec->pool->threads : 1;
}

void ec_parallel_for(const ec_exec *exec, int64_t n, int64_t grain,
                     ec_range_fn fn, void *ctx) {
  ec_pool *p = exec->pool;
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (p == NULL || p->threads < 2 || n < 2 * grain) {
    fn(ctx, 0, n, 0);
    return;
  }
  const int64_t units = (n + grain - 1) / grain; /* of grain jobs */
  p->fn = fn;
  p->ctx = ctx;
  for (int32_t t = 0; t < p->threads; t++) { /* as equal as whole units allow */
    share *sh = &p->shares[t];
    const int64_t b = t * units / p->threads * grain, e = (t + 1) * units / p->threads * grain;
    const int64_t per = (e - b + CHUNKS_PER_THREAD - 1) / CHUNKS_PER_THREAD;
    atomic_store_explicit(&sh->next, b, memory_order_relaxed);
    sh->end = e < n ? e : n;
    sh->chunk = per > grain ? per : grain;
  }
  const uint64_t open_state = ((atomic_load(&p->state) >> 1) + 1) << 1;
  atomic_store(&p->state, open_state);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  run_chunks(p, 0);
  close_job(p, open_state);
}
