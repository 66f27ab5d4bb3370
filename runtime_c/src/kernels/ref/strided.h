/* Strided views, shared by the data-movement kernels (Slice, Transpose): an
 * output of `rank` dims, contiguous in the output, whose element (i0, ...)
 * is read from the input at base + sum(i_d * stride[d]) bytes, elements of
 * eb bytes. prepare appends the output axes outermost first with
 * ec_view_push, which drops size-1 axes and merges an axis into the one
 * before it when the input positions stay evenly spaced across both. */
#ifndef EDGEC_KERNELS_REF_STRIDED_H_
#define EDGEC_KERNELS_REF_STRIDED_H_

#include <string.h>

#include "kernel.h"

typedef struct ec_view {
  int32_t rank;                /* after merging */
  int64_t base;                /* input byte offset of the first output element */
  int64_t eb;                  /* bytes per element */
  int64_t shape[EC_MAX_RANK];  /* output dimensions */
  int64_t stride[EC_MAX_RANK]; /* input bytes per step along each (may be < 0) */
} ec_view;

/* Appends an output axis of count elements, stride input bytes apart. */
void ec_view_push(ec_view *v, int64_t count, int64_t stride);
/* Byte strides of a dense row-major array of shape dims (elements of es
 * bytes) into stride[]; returns its element count. */
int64_t ec_dense_strides(const int64_t *dims, int32_t rank, int64_t es, int64_t *stride);

/* Fills output rows [begin, end) (a row = the innermost axis; the output is
 * rows of shape[rank - 1] elements, in order). */
void ec_view_rows(const ec_view *v, const uint8_t *x, uint8_t *y, int64_t begin, int64_t end);

/* Copies the view of x into y (contiguous) on the session's threads, a row at
 * a time; a view of rank 0 is one element. */
void ec_view_copy(const ec_exec *ex, const ec_view *v, const uint8_t *x, uint8_t *y);

/* d[i] = s[i * stride] for n elements of eb bytes (stride in bytes). */
static inline void ec_gather_row(uint8_t *d, const uint8_t *s, int64_t n, int64_t stride,
                                 int64_t eb) {
  if (stride == eb) {
    memcpy(d, s, (size_t)(n * eb));
    return;
  }
  switch (eb) {
    case 1:
      for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
      break;
    case 2:
      for (int64_t i = 0; i < n; i++) memcpy(d + 2 * i, s + i * stride, 2);
      break;
    case 4:
      for (int64_t i = 0; i < n; i++) memcpy(d + 4 * i, s + i * stride, 4);
      break;
    case 8:
      for (int64_t i = 0; i < n; i++) memcpy(d + 8 * i, s + i * stride, 8);
      break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(d + eb * i, s + i * stride, (size_t)eb);
      break;
  }
}

#endif /* EDGEC_KERNELS_REF_STRIDED_H_ */
