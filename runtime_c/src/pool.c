#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct ec_pool {
  int32_t threads; /* including the calling thread */
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  uint64_t generation;
  int32_t pending;
  bool stop;
  /* the current job */
  ec_range_fn fn;
  void *ctx;
  int64_t n;
};

typedef struct worker_arg {
  ec_pool *pool;
  int32_t id;
} worker_arg;

static void run_share(ec_pool *p, int32_t id) {
  int64_t begin = p->n * id / p->threads;
  int64_t end = p->n * (id + 1) / p->threads;
  if (begin < end) p->fn(p->ctx, begin, end, id);
}

static void *worker_main(void *arg) {
  worker_arg *wa = arg;
  ec_pool *p = wa->pool;
  int32_t id = wa->id;
  free(wa);
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    run_share(p, id);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

ec_status ec_pool_create(int32_t threads, ec_pool **out_pool) {
  ec_pool *p = calloc(1, sizeof *p);
  if (!p) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  p->threads = threads;
  p->workers = calloc((size_t)threads, sizeof *p->workers);
  if (!p->workers) {
    free(p);
    return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
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
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int32_t i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  free(p->workers);
  free(p);
}

void ec_parallel_for(const ec_exec *exec, int64_t n, int64_t grain,
                     ec_range_fn fn, void *ctx) {
  ec_pool *p = exec->pool;
  if (n <= 0) return;
  if (p == NULL || n < 2 * grain || n == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  p->pending = p->threads - 1;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_share(p, 0);
  pthread_mutex_lock(&p->mu);
  while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
