/* libFuzzer target: any byte string given to the loader is refused with a
 * status or loads, runs and frees cleanly (ASan + UBSan watch every byte).
 *
 * Built by runtime_c/fuzz/build.sh with -DEDGEC_FUZZING, which makes the
 * loader skip the CRC32 comparison of the footer (its structural checks
 * stay): otherwise nearly every mutation would stop at the checksum. In that
 * build the footer's CRC bytes are free, so the harness reads its choice of
 * thread count from them. An input whose footer does not match its length
 * (most insertions and deletions) is also tried as a whole payload behind a
 * fresh footer, so that such mutations still reach the verifier.
 *
 * The harness itself limits memory: a file may legitimately ask for a
 * multi-gigabyte arena, which the runtime would allocate and zero. Sessions
 * whose arena + workspaces exceed MAX_SESSION_BYTES are not created (the
 * model is still loaded, verified and freed). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgec/edgec.h"
#include "model.h" /* white-box: max_scratch, to bound the session's memory */

#define MAX_SESSION_BYTES ((uint64_t)64 << 20)
#define FOOTER_SIZE 16

/* Deterministic, not all-zero: exercises NaN/inf/negative paths too. */
static void fill(uint8_t *p, size_t n, size_t salt) {
  uint32_t x = 0x9E3779B9u ^ (uint32_t)salt;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (uint8_t)x;
  }
}

static void exercise(const ec_model *m, int32_t threads) {
  size_t arena = 0, n_in = 0, n_out = 0;
  if (ec_model_arena_size(m, &arena) != EC_OK) abort();
  uint64_t need = (uint64_t)arena + (uint64_t)threads * m->max_scratch;
  if (need > MAX_SESSION_BYTES) return;

  ec_session_options opts = {threads, (int32_t)(arena & 1)};
  ec_session *s = NULL;
  if (ec_session_create(m, &opts, &s) != EC_OK) return;
  if (ec_model_num_inputs(m, &n_in) != EC_OK ||
      ec_model_num_outputs(m, &n_out) != EC_OK)
    abort();
  for (size_t i = 0; i < n_in; i++) {
    ec_tensor_info info;
    if (ec_model_input_info(m, i, &info) != EC_OK) abort();
    if (info.size_bytes > MAX_SESSION_BYTES) continue; /* lives in the arena */
    uint8_t *buf = malloc(info.size_bytes ? info.size_bytes : 1);
    if (!buf) abort();
    fill(buf, info.size_bytes, i);
    /* A bind walks the program's operands: accepted or refused, then undone
     * by the copy (buf is freed below). */
    ec_status bound = ec_session_bind_input(s, i, buf, info.size_bytes);
    if (bound != EC_OK && bound != EC_ERR_UNSUPPORTED) abort();
    if (ec_session_set_input(s, i, buf, info.size_bytes) != EC_OK) abort();
    /* A wrong size must be refused, never copied. */
    if (ec_session_set_input(s, i, buf, info.size_bytes + 1) == EC_OK) abort();
    free(buf);
  }
  if (ec_session_run(s) != EC_OK) abort();
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < n_out; i++) {
    const void *data = NULL;
    size_t size = 0;
    ec_tensor_info info;
    int64_t shape[EC_MAX_RANK];
    int32_t rank = -1;
    uint32_t dyn = 0;
    if (ec_session_get_output(s, i, &data, &size) != EC_OK ||
        ec_model_output_info(m, i, &info) != EC_OK ||
        ec_session_output_shape(s, i, shape, &rank) != EC_OK ||
        ec_model_output_dynamic_dims(m, i, &dyn) != EC_OK || rank != info.rank)
      abort();
    /* the actual shape: the static one, or within the upper bound along the
     * data-dependent dims, and exactly its bytes reported */
    size_t numel = 1, bound = 1;
    for (int32_t k = 0; k < rank; k++) {
      if (shape[k] < 0 || shape[k] > info.shape[k] ||
          (!(dyn >> k & 1u) && shape[k] != info.shape[k]))
        abort();
      numel *= (size_t)shape[k];
      bound *= (size_t)info.shape[k];
    }
    if (size != (bound ? numel * (info.size_bytes / bound) : 0)) abort();
    const uint8_t *bytes = data;
    for (size_t k = 0; k < size; k++) sink ^= bytes[k]; /* every byte is read */
  }
  (void)sink;
  if (opts.profile) {
    size_t n_ins = 0;
    uint64_t ns;
    const char *name;
    if (ec_model_num_instructions(m, &n_ins) != EC_OK) abort();
    for (size_t i = 0; i < n_ins; i++)
      if (ec_session_profile(s, i, &ns, &name) != EC_OK || !name) abort();
  }
  ec_session_free(s);
}

static void load_and_run(const uint8_t *data, size_t size, int32_t threads) {
  ec_model *m = NULL;
  ec_status st = ec_model_open_bytes(data, size, &m);
  if (st != EC_OK) {
    const char *msg = NULL;
    /* A refusal always comes with a message. */
    if (m != NULL || ec_last_error(&msg) != EC_OK || !msg || !msg[0]) abort();
    return;
  }
  exercise(m, threads);
  ec_model_free(m);
}

static uint64_t ld64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The footer's CRC bytes are unchecked in this build: byte 0 of them
   * picks the thread count. */
  bool footer_ok = size >= FOOTER_SIZE &&
                   memcmp(data + size - FOOTER_SIZE, "ECF1", 4) == 0 &&
                   ld64(data + size - 8) == size - FOOTER_SIZE;
  int32_t threads = (size >= FOOTER_SIZE && (data[size - 12] & 1)) ? 2 : 1;
  load_and_run(data, size, threads);
  if (footer_ok) return 0;
  /* Mutations that insert or erase bytes break the footer's length: also
   * try the bytes as a whole payload behind a fresh footer, so that they
   * still reach the verifier. */
  uint8_t *buf = malloc(size + FOOTER_SIZE);
  if (!buf) abort();
  if (size) memcpy(buf, data, size);
  uint8_t *f = buf + size;
  memcpy(f, "ECF1", 4);
  memset(f + 4, 0, 4);
  for (int i = 0; i < 8; i++) f[8 + i] = (uint8_t)((uint64_t)size >> (8 * i));
  load_and_run(buf, size + FOOTER_SIZE, 1);
  free(buf);
  return 0;
}
