/* edgec-run: load a .edgeb program, feed inputs from raw files (or zeros),
 * run it, and write each output as a raw file. Also the on-device benchmark:
 * --warmup runs are discarded, then --iterations runs are timed and
 * summarized (min/p50/p90/mean/max latency, peak RSS, per-instruction mean
 * time with --profile); --json prints all of it as one JSON object on stdout.
 *
 *   edgec-run MODEL.edgeb [--input I=FILE]... [--output-dir DIR]
 *             [--threads N] [--warmup N] [--iterations N] [--profile] [--json]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if !defined(_WIN32)
#include <sys/resource.h>
#endif

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

/* The actual shape of output i after the last run: "[d0, d1]" (sep ", ") or
 * "d0 d1" (sep " "). */
static void print_shape(const ec_session *sess, size_t i, FILE *f, const char *sep) {
  int64_t shape[EC_MAX_RANK];
  int32_t rank = 0;
  ec_session_output_shape(sess, i, shape, &rank);
  bool brackets = sep[0] == ',';
  if (brackets) fputc('[', f);
  for (int32_t k = 0; k < rank; k++) fprintf(f, "%s%lld", k ? sep : "", (long long)shape[k]);
  if (brackets) fputc(']', f);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Peak resident set size of this process in KiB; -1 where unknown. Under
 * qemu user mode it is the emulator's, which includes the guest's. */
static long peak_rss_kb(void) {
#if defined(_WIN32)
  return -1;
#else
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
#if defined(__APPLE__)
  return (long)(ru.ru_maxrss / 1024); /* bytes on Darwin */
#else
  return (long)ru.ru_maxrss; /* KiB on Linux and Android */
#endif
#endif
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n). */
static double percentile(const double *sorted, int n, double p) {
  int rank = (int)ceil(p / 100.0 * n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
    if (*c == '"' || *c == '\\') {
      printf("\\%c", *c);
    } else if (*c < 0x20) {
      printf("\\u%04x", *c);
    } else {
      putchar(*c);
    }
  }
  putchar('"');
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *out_dir = NULL;
  const char *input_files[64] = {0};
  ec_session_options opts = {1, 0};
  int iterations = 1, warmup = 0, json = 0;
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
    } else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) {
      warmup = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--profile")) {
      opts.profile = 1;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (argv[i][0] != '-' && !model_path) {
      model_path = argv[i];
    } else {
      fprintf(stderr, "usage: edgec-run MODEL.edgeb [--input I=FILE]... "
                      "[--output-dir DIR] [--threads N] [--warmup N] [--iterations N] "
                      "[--profile] [--json]\n");
      return 2;
    }
  }
  if (!model_path) {
    fprintf(stderr, "edgec-run: no model given\n");
    return 2;
  }
  if (iterations < 1 || warmup < 0) {
    fprintf(stderr, "edgec-run: --iterations must be >= 1 and --warmup >= 0\n");
    return 2;
  }
  double t_load = now_ms();
  ec_model *model;
  ec_status st = ec_model_open_file(model_path, &model);
  if (st != EC_OK) return fail(st, model_path);
  ec_session *sess;
  st = ec_session_create(model, &opts, &sess);
  if (st != EC_OK) return fail(st, "session");
  t_load = now_ms() - t_load;
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
  size_t n_instr = 0;
  ec_model_num_instructions(model, &n_instr);
  double *times = malloc(sizeof(double) * (size_t)iterations);
  uint64_t *instr_ns = calloc(n_instr ? n_instr : 1, sizeof(uint64_t));
  if (!times || !instr_ns) {
    fprintf(stderr, "edgec-run: out of memory\n");
    return 1;
  }
  for (int it = 0; it < warmup; it++) {
    st = ec_session_run(sess);
    if (st != EC_OK) return fail(st, "run");
  }
  for (int it = 0; it < iterations; it++) {
    double t0 = now_ms();
    st = ec_session_run(sess);
    if (st != EC_OK) return fail(st, "run");
    times[it] = now_ms() - t0;
    for (size_t i = 0; opts.profile && i < n_instr; i++) {
      uint64_t ns = 0;
      const char *op;
      ec_session_profile(sess, i, &ns, &op);
      instr_ns[i] += ns;
    }
  }
  double sum = 0;
  for (int it = 0; it < iterations; it++) sum += times[it];
  qsort(times, (size_t)iterations, sizeof(double), cmp_double);
  double t_min = times[0], t_max = times[iterations - 1], mean = sum / iterations;
  double p50 = percentile(times, iterations, 50), p90 = percentile(times, iterations, 90);
  size_t arena = 0;
  ec_model_arena_size(model, &arena);
  long rss = peak_rss_kb();
  if (json) {
    const char *version = "";
    ec_runtime_version(&version);
    printf("{\"model\": ");
    json_string(model_path);
    printf(", \"runtime_version\": ");
    json_string(version);
    printf(", \"threads\": %d, \"warmup\": %d, \"iterations\": %d, \"load_ms\": %.6f, "
           "\"arena_bytes\": %zu, \"peak_rss_kb\": %ld, \"latency_ms\": {\"min\": %.6f, "
           "\"p50\": %.6f, \"p90\": %.6f, \"mean\": %.6f, \"max\": %.6f}, \"profile\": [",
           opts.threads, warmup, iterations, t_load, arena, rss, t_min, p50, p90, mean, t_max);
    for (size_t i = 0; opts.profile && i < n_instr; i++) {
      uint64_t ns = 0;
      const char *op = "";
      ec_session_profile(sess, i, &ns, &op);
      printf("%s{\"index\": %zu, \"op\": ", i ? ", " : "", i);
      json_string(op);
      printf(", \"mean_ms\": %.6f}", instr_ns[i] / 1e6 / iterations);
    }
    printf("], \"outputs\": [");
    for (size_t i = 0; i < n_out; i++) {
      ec_tensor_info info;
      ec_model_output_info(model, i, &info);
      printf("%s{\"name\": ", i ? ", " : "");
      json_string(info.name);
      printf(", \"shape\": ");
      print_shape(sess, i, stdout, ", ");
      printf("}");
    }
    printf("]}\n");
  } else {
    printf("best of %d runs: %.3f ms\n", iterations, t_min);
    printf("latency ms: min %.3f  p50 %.3f  p90 %.3f  mean %.3f  max %.3f "
           "(%d warm-up runs)\n", t_min, p50, p90, mean, t_max, warmup);
    printf("load %.3f ms, arena %zu bytes, peak RSS %ld KiB\n", t_load, arena, rss);
    for (size_t i = 0; opts.profile && i < n_instr; i++) {
      uint64_t ns = 0;
      const char *op = "";
      ec_session_profile(sess, i, &ns, &op);
      printf("%5zu %-20s %10.3f ms\n", i, op, instr_ns[i] / 1e6 / iterations);
    }
    for (size_t i = 0; i < n_out; i++) { /* the actual shapes (docs/dynamic_shapes.md) */
      ec_tensor_info info;
      ec_model_output_info(model, i, &info);
      printf("output %zu '%s': ", i, info.name);
      print_shape(sess, i, stdout, ", ");
      printf("\n");
    }
  }
  free(times);
  free(instr_ns);
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
    /* its actual shape beside it: dims separated by spaces, one line */
    snprintf(path, sizeof path, "%s/output_%zu.shape", out_dir, i);
    f = fopen(path, "w");
    if (!f) {
      fprintf(stderr, "edgec-run: %s: cannot write\n", path);
      return 1;
    }
    print_shape(sess, i, f, " ");
    fprintf(f, "\n");
    fclose(f);
  }
  ec_session_free(sess);
  ec_model_free(model);
  return 0;
}
