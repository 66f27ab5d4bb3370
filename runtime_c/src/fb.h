/* A small bounds-checked FlatBuffers reader over a byte span.
 *
 * Every accessor checks what it touches against the span and reports
 * failure through its return value; nothing here trusts the bytes. It is
 * generic (tables, vectors, strings, unions): per-table code stays thin
 * accessors over field ids generated from the schema. */
#ifndef EDGEC_FB_H_
#define EDGEC_FB_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fb_span {
  const uint8_t *data;
  size_t size;
} fb_span;

typedef struct fb_table {
  fb_span buf;
  size_t pos;       /* start of the table */
  size_t vtable;    /* start of its vtable */
  uint16_t vt_size; /* bytes of the vtable */
  uint16_t tb_size; /* bytes of the table's inline part */
} fb_table;

typedef struct fb_vector {
  fb_span buf;
  size_t pos; /* first element */
  uint32_t len;
} fb_vector;

/* The root table, after checking the 4-byte identifier at offset 4. */
bool fb_root(fb_span buf, const char identifier[4], fb_table *out);

/* Position of a field inside the buffer, 0 if absent. Fails if the field's
 * width does not fit inside the table. */
bool fb_field(const fb_table *t, int id, size_t width, size_t *out_pos);

bool fb_u8(const fb_table *t, int id, uint8_t dflt, uint8_t *out);
bool fb_u16(const fb_table *t, int id, uint16_t dflt, uint16_t *out);
bool fb_i32(const fb_table *t, int id, int32_t dflt, int32_t *out);
bool fb_i64(const fb_table *t, int id, int64_t dflt, int64_t *out);
/* The unsigned ones are the signed ones' bits (an object may be read through
 * the signed type of its unsigned one, and back). */
static inline bool fb_u32(const fb_table *t, int id, uint32_t dflt, uint32_t *out) {
  return fb_i32(t, id, (int32_t)dflt, (int32_t *)out);
}
static inline bool fb_u64(const fb_table *t, int id, uint64_t dflt, uint64_t *out) {
  return fb_i64(t, id, (int64_t)dflt, (int64_t *)out);
}
bool fb_f32(const fb_table *t, int id, float dflt, float *out);
bool fb_bool(const fb_table *t, int id, bool dflt, bool *out);

/* Sub-table; *present is false (and the call succeeds) when absent. */
bool fb_table_field(const fb_table *t, int id, fb_table *out, bool *present);
/* Vector of elem_size-byte elements; absent reads as empty. */
bool fb_vector_field(const fb_table *t, int id, size_t elem_size,
                     fb_vector *out);
/* NUL-terminated string; absent reads as "". */
bool fb_string_field(const fb_table *t, int id, const char **out);

/* Element i of a vector of tables (i < v->len is the caller's check). */
bool fb_vector_table(const fb_vector *v, uint32_t i, fb_table *out);

/* Little-endian loads of vector elements (bounds already checked). */
int32_t fb_vec_i32(const fb_vector *v, uint32_t i);
int64_t fb_vec_i64(const fb_vector *v, uint32_t i);
uint32_t fb_vec_u32(const fb_vector *v, uint32_t i);
float fb_vec_f32(const fb_vector *v, uint32_t i);

static inline const void *fb_vector_data(const fb_vector *v) {
  return v->buf.data + v->pos;
}

#endif /* EDGEC_FB_H_ */
