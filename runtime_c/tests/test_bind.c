/* ec_session_bind_input (zero-copy inputs), built by tests/runtime/test_bind.py:
 *
 *   test_bind BINDABLE.edgeb REFUSED.edgeb
 *
 * BINDABLE: a float32 program whose inputs may all be bound. Bound inputs give
 * byte-identical outputs to ec_session_set_input of the same values, a rebind
 * or a change of the bound bytes is seen by the next run, set_input undoes a
 * bind, a refused bind leaves the binding as it was, the session never writes to a bound buffer, and bad arguments get
 * their status. REFUSED: a program that reads its first input's arena bytes
 * otherwise (an instruction writes over them): the bind is refused with
 * EC_ERR_UNSUPPORTED and set_input still works. Exits 0 and prints
 * "test_bind: ok" on success. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgec/edgec.h"

static int failures;

#define EXPECT(cond)                                                 \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "test_bind:%d: %s failed\n", __LINE__, #cond); \
      failures++;                                                    \
    }                                                                \
  } while (0)

static void ok(ec_status st, const char *what) {
  if (st == EC_OK) return;
  const char *msg = "";
  ec_last_error(&msg);
  fprintf(stderr, "test_bind: %s: %s (%s)\n", what, msg, ec_status_name(st));
  exit(1);
}

static void fill(float *dst, size_t n, uint32_t seed) {
  uint32_t x = 2463534242u ^ (seed * 2654435761u);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    dst[i] = (float)((int32_t)(x % 2001) - 1000) / 250.0f;
  }
}

typedef struct model {
  ec_model *m;
  size_t n_in, n_out;
  size_t in_size[8];
} model;

static model open_model(const char *path) {
  model r;
  memset(&r, 0, sizeof r);
  ok(ec_model_open_file(path, &r.m), path);
  ok(ec_model_num_inputs(r.m, &r.n_in), "num_inputs");
  ok(ec_model_num_outputs(r.m, &r.n_out), "num_outputs");
  if (r.n_in > 8) {
    fprintf(stderr, "test_bind: %s: more than 8 inputs\n", path);
    exit(1);
  }
  for (size_t i = 0; i < r.n_in; i++) {
    ec_tensor_info info;
    ok(ec_model_input_info(r.m, i, &info), "input_info");
    if (info.dtype != EC_FLOAT32) {
      fprintf(stderr, "test_bind: %s: input %zu is not float32\n", path, i);
      exit(1);
    }
    r.in_size[i] = info.size_bytes;
  }
  return r;
}

/* 64-byte aligned buffers with the values of seed, one per input. */
static void make_inputs(const model *md, float **bufs, uint32_t seed) {
  for (size_t i = 0; i < md->n_in; i++) {
    size_t rounded = (md->in_size[i] + 64) / 64 * 64;
    bufs[i] = aligned_alloc(64, rounded);
    if (!bufs[i]) exit(1);
    fill(bufs[i], md->in_size[i] / sizeof(float), seed + (uint32_t)i);
  }
}

/* Whether the outputs of a equal those of b, byte for byte. */
static int same_outputs(const ec_session *a, const ec_session *b, size_t n_out) {
  for (size_t o = 0; o < n_out; o++) {
    const void *pa, *pb;
    size_t sa, sb;
    ok(ec_session_get_output(a, o, &pa, &sa), "get_output");
    ok(ec_session_get_output(b, o, &pb, &sb), "get_output");
    if (sa != sb || memcmp(pa, pb, sa) != 0) return 0;
  }
  return 1;
}

static void test_bindable(const char *path, int threads) {
  model md = open_model(path);
  ec_session_options opts = {.threads = threads};
  ec_session *ref, *s;
  ok(ec_session_create(md.m, &opts, &ref), "session_create");
  ok(ec_session_create(md.m, &opts, &s), "session_create");
  float *a[8], *b[8], *keep[8];
  make_inputs(&md, a, 1);
  make_inputs(&md, b, 100);
  make_inputs(&md, keep, 1);

  /* bound a = copied a */
  for (size_t i = 0; i < md.n_in; i++) {
    ok(ec_session_set_input(ref, i, a[i], md.in_size[i]), "set_input");
    ok(ec_session_bind_input(s, i, a[i], md.in_size[i]), "bind_input");
  }
  ok(ec_session_run(ref), "run");
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));
  ok(ec_session_run(s), "run again");
  EXPECT(same_outputs(ref, s, md.n_out));
  for (size_t i = 0; i < md.n_in; i++)  /* never written */
    EXPECT(memcmp(a[i], keep[i], md.in_size[i]) == 0);

  /* rebinding to b */
  for (size_t i = 0; i < md.n_in; i++) {
    ok(ec_session_set_input(ref, i, b[i], md.in_size[i]), "set_input");
    ok(ec_session_bind_input(s, i, b[i], md.in_size[i]), "bind_input");
  }
  ok(ec_session_run(ref), "run");
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));

  /* the bound bytes changed between runs: the next run reads the new ones */
  for (size_t i = 0; i < md.n_in; i++) {
    memcpy(b[i], a[i], md.in_size[i]);
    ok(ec_session_set_input(ref, i, a[i], md.in_size[i]), "set_input");
  }
  ok(ec_session_run(ref), "run");
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));

  /* set_input undoes the bind: later changes of b are not seen */
  for (size_t i = 0; i < md.n_in; i++) {
    ok(ec_session_set_input(s, i, a[i], md.in_size[i]), "set_input");
    fill(b[i], md.in_size[i] / sizeof(float), 7);
  }
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));

  /* bad arguments */
  const char *msg = NULL;
  EXPECT(ec_session_bind_input(s, md.n_in, a[0], md.in_size[0]) == EC_ERR_INVALID_ARGUMENT);
  ec_last_error(&msg);
  EXPECT(msg && strstr(msg, "out of range"));
  EXPECT(ec_session_bind_input(s, (size_t)-1, a[0], md.in_size[0]) == EC_ERR_INVALID_ARGUMENT);
  EXPECT(ec_session_bind_input(s, 0, a[0], md.in_size[0] - 4) == EC_ERR_SHAPE);
  ec_last_error(&msg);
  EXPECT(msg && strstr(msg, "expected"));
  EXPECT(ec_session_bind_input(s, 0, a[0], md.in_size[0] + 4) == EC_ERR_SHAPE);
  EXPECT(ec_session_bind_input(s, 0, NULL, md.in_size[0]) == EC_ERR_INVALID_ARGUMENT);
  EXPECT(ec_session_bind_input(NULL, 0, a[0], md.in_size[0]) == EC_ERR_INVALID_ARGUMENT);
  /* unaligned data: refused, and the input stays bound to a */
  for (size_t i = 0; i < md.n_in; i++)
    ok(ec_session_bind_input(s, i, a[i], md.in_size[i]), "bind_input");
  EXPECT(ec_session_bind_input(s, 0, (const char *)b[0] + 4, md.in_size[0]) ==
         EC_ERR_UNSUPPORTED);
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));

  for (size_t i = 0; i < md.n_in; i++) {
    free(a[i]);
    free(b[i]);
    free(keep[i]);
  }
  ok(ec_session_free(s), "session_free");
  ok(ec_session_free(ref), "session_free");
  ok(ec_model_free(md.m), "model_free");
}

static void test_refused(const char *path) {
  model md = open_model(path);
  ec_session *ref, *s;
  ok(ec_session_create(md.m, NULL, &ref), "session_create");
  ok(ec_session_create(md.m, NULL, &s), "session_create");
  float *a[8], *keep[8];
  make_inputs(&md, a, 3);
  make_inputs(&md, keep, 3);
  const char *msg = NULL;
  EXPECT(ec_session_bind_input(s, 0, a[0], md.in_size[0]) == EC_ERR_UNSUPPORTED);
  ec_last_error(&msg);
  EXPECT(msg && strstr(msg, "cannot be bound"));
  for (size_t i = 0; i < md.n_in; i++) {
    ok(ec_session_set_input(ref, i, a[i], md.in_size[i]), "set_input");
    ok(ec_session_set_input(s, i, a[i], md.in_size[i]), "set_input");
  }
  ok(ec_session_run(ref), "run");
  ok(ec_session_run(s), "run");
  EXPECT(same_outputs(ref, s, md.n_out));
  for (size_t i = 0; i < md.n_in; i++) {
    EXPECT(memcmp(a[i], keep[i], md.in_size[i]) == 0);
    free(a[i]);
    free(keep[i]);
  }
  ok(ec_session_free(s), "session_free");
  ok(ec_session_free(ref), "session_free");
  ok(ec_model_free(md.m), "model_free");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_bind BINDABLE.edgeb REFUSED.edgeb\n");
    return 2;
  }
  test_bindable(argv[1], 1);
  test_bindable(argv[1], 3);
  test_refused(argv[2]);
  if (failures) return 1;
  printf("test_bind: ok\n");
  return 0;
}
