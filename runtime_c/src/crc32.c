#include "crc32.h"

#include <pthread.h>

/* Slicing-by-4 tables, built once on first use. */
static uint32_t table[4][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    for (int t = 1; t < 4; t++)
      table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
  }
}

uint32_t ec_crc32(const uint8_t *data, size_t size) {
  pthread_once(&table_once, build_table);
  uint32_t c = 0xFFFFFFFFu;
  size_t i = 0;
  for (; i + 4 <= size; i += 4) {
    c ^= (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8) |
         ((uint32_t)data[i + 2] << 16) | ((uint32_t)data[i + 3] << 24);
    c = table[3][c & 0xFF] ^ table[2][(c >> 8) & 0xFF] ^
        table[1][(c >> 16) & 0xFF] ^ table[0][c >> 24];
  }
  for (; i < size; i++) c = table[0][(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}
