/* The program bench/qemu_insn_count.py runs under qemu-aarch64 to count the
 * instructions of one GEMM (C = A . B, row-major, m x k times k x n):
 *
 *   neon_gemm_icount MODE M N K      MODE: none | neon | ref
 *
 * Every mode allocates and fills the same buffers; `none` stops there, `neon`
 * then runs ec_sgemm_neon (kernels/neon/sgemm_neon.c) once, `ref` runs the
 * portable ec_sgemm of kernels/ref/gemm_core.c (EC_ISA_REF: its 6 x 8 C
 * register tile, packing and blocking) once. The GEMM's instructions are
 * count(MODE) - count(none). Prints a checksum of C so the call cannot be
 * optimized away and a wrong run shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/neon/sgemm_neon.h"
#include "kernels/ref/gemm_core.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s none|neon|ref M N K\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  const long m = atol(argv[2]), n = atol(argv[3]), k = atol(argv[4]);
  if (m <= 0 || n <= 0 || k <= 0 || m > 4096 || n > 4096 || k > 4096) {
    fprintf(stderr, "M, N, K must be in [1, 4096]\n");
    return 2;
  }
  size_t ws_bytes = ec_sgemm_workspace(m, n, k);
  const size_t ws_neon = ec_sgemm_neon_workspace(m, n, k);
  if (ws_neon > ws_bytes) ws_bytes = ws_neon;
  float *a = malloc(sizeof(float) * (size_t)(m * k));
  float *b = malloc(sizeof(float) * (size_t)(k * n));
  float *c = malloc(sizeof(float) * (size_t)(m * n));
  void *ws = aligned_alloc(64, ws_bytes);
  if (!a || !b || !c || !ws) return 3;
  unsigned s = 12345u; /* values in [-1, 1), k/512 steps */
  for (long i = 0; i < m * k; i++) {
    s = s * 1103515245u + 12345u;
    a[i] = (float)(s >> 16 & 1023) / 512 - 1;
  }
  for (long i = 0; i < k * n; i++) {
    s = s * 1103515245u + 12345u;
    b[i] = (float)(s >> 16 & 1023) / 512 - 1;
  }
  memset(c, 0, sizeof(float) * (size_t)(m * n));

  if (strcmp(mode, "neon") == 0)
    ec_sgemm_neon(m, n, k, a, k, 1, b, n, 1, c, n, false, ws);
  else if (strcmp(mode, "ref") == 0)
    ec_sgemm(EC_ISA_REF, m, n, k, a, k, 1, b, n, 1, c, n, false, ws);
  else if (strcmp(mode, "none") != 0)
    return 2;

  double sum = 0;
  for (long i = 0; i < m * n; i++) sum += c[i] * (double)((i % 7) + 1);
  printf("%s %ldx%ldx%ld checksum %.6e\n", mode, m, n, k, sum);
  free(a);
  free(b);
  free(c);
  free(ws);
  return 0;
}
