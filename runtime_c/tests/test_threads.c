/* Concurrency check, meant to run under ThreadSanitizer (ci/tsan.sh).
 *
 *   test_threads MODEL.edgeb [SESSIONS [ITERATIONS]]
 *
 * Loads one model (shared by every session), computes reference outputs with
 * a single-threaded session, then runs SESSIONS single-threaded sessions on
 * as many pthreads, plus one session with a pool of 3 threads on one more
 * pthread, each ITERATIONS times, and checks that every output of every run
 * is byte-identical to the reference. Exits 0 on success, 1 on any mismatch
 * or error (TSan reports make the process exit non-zero too). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgec/edgec.h"

typedef struct buffer {
  void *data;
  size_t size;
} buffer;

static const ec_model *g_model;
static size_t g_n_in, g_n_out;
static buffer *g_inputs, *g_expected;
static int g_iterations;

static void die(const char *what, ec_status st) {
  const char *msg = "";
  ec_last_error(&msg);
  fprintf(stderr, "test_threads: %s: %s (%s)\n", what, msg, ec_status_name(st));
  exit(1);
}

/* Deterministic values that are valid for the dtype. */
static void fill(void *dst, size_t size, ec_dtype dtype, uint32_t seed) {
  uint32_t x = 2463534242u ^ seed;
  for (size_t i = 0; i < size;) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    if (dtype == EC_FLOAT32 && size - i >= 4) {
      float f = (float)((int32_t)(x % 2001u) - 1000) / 250.0f;
      memcpy((uint8_t *)dst + i, &f, 4);
      i += 4;
    } else {
      ((uint8_t *)dst)[i++] = dtype == EC_BOOL ? (uint8_t)(x & 1) : (uint8_t)x;
    }
  }
}

/* Sets the inputs, runs, and copies (copy != NULL) or compares the outputs.
 * Returns the number of mismatched outputs. */
static int run_once(ec_session *s, buffer *copy) {
  ec_status st;
  for (size_t i = 0; i < g_n_in; i++)
    if ((st = ec_session_set_input(s, i, g_inputs[i].data, g_inputs[i].size)) != EC_OK)
      die("set_input", st);
  if ((st = ec_session_run(s)) != EC_OK) die("run", st);
  int bad = 0;
  for (size_t i = 0; i < g_n_out; i++) {
    const void *data;
    size_t size;
    if ((st = ec_session_get_output(s, i, &data, &size)) != EC_OK) die("get_output", st);
    if (copy) {
      copy[i].data = malloc(size ? size : 1);
      if (!copy[i].data) die("malloc", EC_ERR_NO_MEMORY);
      memcpy(copy[i].data, data, size);
      copy[i].size = size;
    } else if (size != g_expected[i].size || memcmp(data, g_expected[i].data, size) != 0) {
      bad++;
    }
  }
  return bad;
}

typedef struct job {
  int id;
  int32_t threads; /* pool threads of this job's session */
  int mismatches;
} job;

static void *worker(void *arg) {
  job *j = arg;
  ec_session_options opts = {j->threads, 0};
  ec_session *s = NULL;
  ec_status st = ec_session_create(g_model, &opts, &s);
  if (st != EC_OK) die("session_create", st);
  for (int it = 0; it < g_iterations; it++) j->mismatches += run_once(s, NULL);
  ec_session_free(s);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.edgeb [SESSIONS [ITERATIONS]]\n", argv[0]);
    return 2;
  }
  int n_sessions = argc > 2 ? atoi(argv[2]) : 4;
  g_iterations = argc > 3 ? atoi(argv[3]) : 20;
  if (n_sessions < 1 || g_iterations < 1) return 2;

  ec_model *model = NULL;
  ec_status st = ec_model_open_file(argv[1], &model);
  if (st != EC_OK) die(argv[1], st);
  g_model = model;
  ec_model_num_inputs(model, &g_n_in);
  ec_model_num_outputs(model, &g_n_out);
  g_inputs = calloc(g_n_in + 1, sizeof *g_inputs);
  g_expected = calloc(g_n_out + 1, sizeof *g_expected);
  if (!g_inputs || !g_expected) die("calloc", EC_ERR_NO_MEMORY);
  for (size_t i = 0; i < g_n_in; i++) {
    ec_tensor_info info;
    if ((st = ec_model_input_info(model, i, &info)) != EC_OK) die("input_info", st);
    g_inputs[i].size = info.size_bytes;
    g_inputs[i].data = malloc(info.size_bytes ? info.size_bytes : 1);
    if (!g_inputs[i].data) die("malloc", EC_ERR_NO_MEMORY);
    fill(g_inputs[i].data, info.size_bytes, info.dtype, (uint32_t)i);
  }

  /* The reference: one single-threaded run. */
  ec_session *ref = NULL;
  if ((st = ec_session_create(model, NULL, &ref)) != EC_OK) die("session_create", st);
  run_once(ref, g_expected);
  ec_session_free(ref);

  int n_jobs = n_sessions + 1;
  job *jobs = calloc((size_t)n_jobs, sizeof *jobs);
  pthread_t *tids = calloc((size_t)n_jobs, sizeof *tids);
  if (!jobs || !tids) die("calloc", EC_ERR_NO_MEMORY);
  for (int j = 0; j < n_jobs; j++) {
    jobs[j].id = j;
    jobs[j].threads = j == n_sessions ? 3 : 1; /* the last one uses a pool */
    if (pthread_create(&tids[j], NULL, worker, &jobs[j]) != 0) {
      fprintf(stderr, "test_threads: pthread_create failed\n");
      return 1;
    }
  }
  int failures = 0;
  for (int j = 0; j < n_jobs; j++) {
    pthread_join(tids[j], NULL);
    if (jobs[j].mismatches) {
      fprintf(stderr, "test_threads: session %d (%d threads): %d outputs differ from the "
              "single-threaded run\n", j, jobs[j].threads, jobs[j].mismatches);
      failures++;
    }
  }
  size_t total = 0;
  for (size_t i = 0; i < g_n_out; i++) total += g_expected[i].size;
  printf("test_threads: %d sessions x %d runs (+1 session with 3 threads), %zu outputs "
         "(%zu bytes): %s\n", n_sessions, g_iterations, g_n_out, total,
         failures ? "MISMATCH" : "all byte-identical");

  for (size_t i = 0; i < g_n_in; i++) free(g_inputs[i].data);
  for (size_t i = 0; i < g_n_out; i++) free(g_expected[i].data);
  free(g_inputs);
  free(g_expected);
  free(jobs);
  free(tids);
  ec_model_free(model);
  return failures ? 1 : 0;
}
