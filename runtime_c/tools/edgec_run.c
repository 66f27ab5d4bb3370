/* edgec-run: load a .edgeb program, feed inputs from raw files (or a
 * deterministic pattern), run it, and write each output as a raw file.
 *
 *   edgec-run MODEL.edgeb [--input I=FILE]... [--output-dir DIR]
 *             [--threads N] [--iterations N] [--profile]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgec/edgec.h"

static int fail(ec_status st, const char *what) {
  const char *msg = "";
  ec_last_error(&msg);
  fprintf(stderr, "edgec-run: %s: %s (%s)\n", what, msg, ec_status_name(st));
  return 1;
}

static void *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  void *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
      buf = malloc((size_t)n + 1);
      if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
      }
      *size = (size_t)n;
    }
  }
  fclose(f);
  return buf;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *out_dir = NULL;
  const char *input_files[64] = {0};
  ec_session_options opts = {1, 0};
  int iterations = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--input") && i + 1 < argc) {
      char *spec = argv[++i];
      char *eq = strchr(spec, '=');
      int idx = eq ? atoi(spec) : -1;
      if (!eq || idx < 0 || idx >= 64) {
        fprintf(stderr, "edgec-run: --input wants INDEX=FILE, got '%s'\n", spec);
        return 2;
      }
      input_files[idx] = eq + 1;
    } else if (!strcmp(argv[i], "--output-dir") && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      opts.threads = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
      iterations = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--profile")) {
      opts.profile = 1;
    } else if (argv[i][0] != '-' && !model_path) {
      model_path = argv[i];
    } else {
      fprintf(stderr, "usage: edgec-run MODEL.edgeb [--input I=FILE]... "
                      "[--output-dir DIR] [--threads N] [--iterations N] [--profile]\n");
      return 2;
    }
  }
  if (!model_path || iterations < 1) {
    fprintf(stderr, "edgec-run: no model given\n");
    return 2;
  }
  ec_model *model;
  ec_status st = ec_model_open_file(model_path, &model);
  if (st != EC_OK) return fail(st, model_path);
  ec_session *sess;
  st = ec_session_create(model, &opts, &sess);
  if (st != EC_OK) return fail(st, "session");
  size_t n_in, n_out;
  ec_model_num_inputs(model, &n_in);
  ec_model_num_outputs(model, &n_out);
  for (size_t i = 0; i < n_in; i++) {
    ec_tensor_info info;
    ec_model_input_info(model, i, &info);
    size_t size = info.size_bytes;
    void *buf;
    if (i < 64 && input_files[i]) {
      buf = read_file(input_files[i], &size);
      if (!buf) {
        fprintf(stderr, "edgec-run: %s: cannot read\n", input_files[i]);
        return 1;
      }
    } else { /* no file given: zeros */
      buf = calloc(1, size ? size : 1);
      if (!buf) return 1;
    }
    st = ec_session_set_input(sess, i, buf, size);
    free(buf);
    if (st != EC_OK) return fail(st, "input");
  }
  double best = 1e30;
  for (int it = 0; it < iterations; it++) {
    double t0 = now_ms();
    st = ec_session_run(sess);
    if (st != EC_OK) return fail(st, "run");
    double dt = now_ms() - t0;
    if (dt < best) best = dt;
  }
  printf("best of %d runs: %.3f ms\n", iterations, best);
  if (opts.profile) {
    size_t n_instr;
    ec_model_num_instructions(model, &n_instr);
    for (size_t i = 0; i < n_instr; i++) {
      uint64_t ns;
      const char *op;
      ec_session_profile(sess, i, &ns, &op);
      printf("%5zu %-20s %10.3f ms\n", i, op, ns / 1e6);
    }
  }
  for (size_t i = 0; out_dir && i < n_out; i++) {
    const void *data;
    size_t size;
    ec_session_get_output(sess, i, &data, &size);
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%zu.bin", out_dir, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
      fprintf(stderr, "edgec-run: %s: cannot write\n", path);
      if (f) fclose(f);
      return 1;
    }
    fclose(f);
  }
  ec_session_free(sess);
  ec_model_free(model);
  return 0;
}
