#include "fb.h"

#include <string.h>

static uint16_t ld16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static float ldf(const uint8_t *p) {
  uint32_t bits = ld32(p);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* [pos, pos + n) lies inside the span. */
static bool in_span(fb_span b, size_t pos, size_t n) {
  return pos <= b.size && n <= b.size - pos;
}

static bool table_at(fb_span buf, size_t pos, fb_table *out) {
  if (pos % 4 != 0 || !in_span(buf, pos, 4)) return false;
  /* soffset: vtable = table - soffset */
  int64_t vt = (int64_t)pos - (int64_t)(int32_t)ld32(buf.data + pos);
  if (vt < 0 || vt % 2 != 0 || !in_span(buf, (size_t)vt, 4)) return false;
  uint16_t vt_size = ld16(buf.data + vt);
  uint16_t tb_size = ld16(buf.data + vt + 2);
  if (vt_size < 4 || vt_size % 2 != 0 || !in_span(buf, (size_t)vt, vt_size))
    return false;
  if (tb_size < 4 || !in_span(buf, pos, tb_size)) return false;
  out->buf = buf;
  out->pos = pos;
  out->vtable = (size_t)vt;
  out->vt_size = vt_size;
  out->tb_size = tb_size;
  return true;
}

bool fb_root(fb_span buf, const char identifier[4], fb_table *out) {
  if (buf.data == NULL || !in_span(buf, 0, 8)) return false;
  if (ld32(buf.data + 4) != ld32((const uint8_t *)identifier)) return false;
  return table_at(buf, ld32(buf.data), out);
}

bool fb_field(const fb_table *t, int id, size_t width, size_t *out_pos) {
  size_t slot = 4 + 2 * (size_t)id;
  *out_pos = 0;
  if (id < 0) return false;
  if (slot + 2 > t->vt_size) return true; /* field newer than the writer */
  uint16_t off = ld16(t->buf.data + t->vtable + slot);
  if (off == 0) return true;
  if (off < 4 || (size_t)off + width > t->tb_size) return false;
  *out_pos = t->pos + off;
  return true;
}

#define FB_SCALAR(fn, type, width, load)                              \
  bool fn(const fb_table *t, int id, type dflt, type *out) {          \
    size_t p;                                                         \
    if (!fb_field(t, id, width, &p)) return false;                    \
    *out = p ? (type)load : dflt;                                     \
    return true;                                                      \
  }

FB_SCALAR(fb_u8, uint8_t, 1, t->buf.data[p])
FB_SCALAR(fb_u16, uint16_t, 2, ld16(t->buf.data + p))
FB_SCALAR(fb_i32, int32_t, 4, ld32(t->buf.data + p))
FB_SCALAR(fb_i64, int64_t, 8, ld64(t->buf.data + p))
FB_SCALAR(fb_bool, bool, 1, (t->buf.data[p] != 0))

FB_SCALAR(fb_f32, float, 4, ldf(t->buf.data + p))

/* Follows the uoffset stored at a field; returns the target position. */
static bool deref(const fb_table *t, int id, size_t *out_target) {
  size_t p;
  *out_target = 0;
  if (!fb_field(t, id, 4, &p)) return false;
  if (!p) return true;
  uint32_t rel = ld32(t->buf.data + p);
  if (rel == 0 || !in_span(t->buf, p, (size_t)rel)) return false;
  *out_target = p + rel;
  return true;
}

bool fb_table_field(const fb_table *t, int id, fb_table *out, bool *present) {
  size_t target;
  *present = false;
  if (!deref(t, id, &target)) return false;
  if (!target) return true;
  *present = true;
  return table_at(t->buf, target, out);
}

static bool vector_at(fb_span buf, size_t pos, size_t elem_size,
                      fb_vector *out) {
  if (pos % 4 != 0 || !in_span(buf, pos, 4)) return false;
  uint32_t len = ld32(buf.data + pos);
  if (elem_size && (uint64_t)len > (uint64_t)(buf.size / elem_size))
    return false;
  if (!in_span(buf, pos + 4, (size_t)len * elem_size)) return false;
  /* Elements wider than 4 bytes are aligned by the writer. */
  if (elem_size == 8 && (pos + 4) % 8 != 0) return false;
  out->buf = buf;
  out->pos = pos + 4;
  out->len = len;
  return true;
}

bool fb_vector_field(const fb_table *t, int id, size_t elem_size,
                     fb_vector *out) {
  size_t target;
  out->buf = t->buf;
  out->pos = 0;
  out->len = 0;
  if (!deref(t, id, &target)) return false;
  if (!target) return true;
  return vector_at(t->buf, target, elem_size, out);
}

bool fb_string_field(const fb_table *t, int id, const char **out) {
  fb_vector v;
  *out = "";
  if (!fb_vector_field(t, id, 1, &v)) return false;
  if (v.pos == 0) return true;
  /* The terminating NUL must be inside the buffer too. */
  if (!in_span(v.buf, v.pos, (size_t)v.len + 1)) return false;
  if (v.buf.data[v.pos + v.len] != 0) return false;
  const char *s = (const char *)(v.buf.data + v.pos);
  if (strlen(s) != v.len) return false; /* a NUL inside */
  *out = s;
  return true;
}

bool fb_vector_table(const fb_vector *v, uint32_t i, fb_table *out) {
  size_t p = v->pos + 4 * (size_t)i;
  uint32_t rel = ld32(v->buf.data + p);
  if (rel == 0 || !in_span(v->buf, p, (size_t)rel)) return false;
  return table_at(v->buf, p + rel, out);
}

int32_t fb_vec_i32(const fb_vector *v, uint32_t i) {
  return (int32_t)ld32(v->buf.data + v->pos + 4 * (size_t)i);
}
uint32_t fb_vec_u32(const fb_vector *v, uint32_t i) {
  return ld32(v->buf.data + v->pos + 4 * (size_t)i);
}
int64_t fb_vec_i64(const fb_vector *v, uint32_t i) {
  return (int64_t)ld64(v->buf.data + v->pos + 8 * (size_t)i);
}
float fb_vec_f32(const fb_vector *v, uint32_t i) {
  return ldf(v->buf.data + v->pos + 4 * (size_t)i);
}
