/* In-place heapsort of an index array by a caller's total order, for the
 * kernels that sort at run time (NonMaxSuppression, Unique): no allocation
 * (unlike glibc's qsort, which may malloc a merge buffer), O(n log n) in the
 * worst case. Not stable: the order must break ties itself (e.g. by index). */
#ifndef EDGEC_KERNELS_REF_SORT_H_
#define EDGEC_KERNELS_REF_SORT_H_

#include <stdint.h>

/* < 0 when a sorts before b, > 0 after, 0 equal. */
typedef int (*ec_index_cmp)(const void *ctx, int64_t a, int64_t b);

static inline void ec_sift_down(int64_t *v, int64_t root, int64_t n, ec_index_cmp cmp,
                                const void *ctx) {
  for (;;) {
    int64_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && cmp(ctx, v[child], v[child + 1]) < 0) child++;
    if (cmp(ctx, v[root], v[child]) >= 0) return;
    const int64_t t = v[root];
    v[root] = v[child];
    v[child] = t;
    root = child;
  }
}

static inline void ec_sort_indices(int64_t *v, int64_t n, ec_index_cmp cmp, const void *ctx) {
  for (int64_t i = n / 2; i-- > 0;) ec_sift_down(v, i, n, cmp, ctx);
  for (int64_t end = n - 1; end > 0; end--) {
    const int64_t t = v[0];
    v[0] = v[end];
    v[end] = t;
    ec_sift_down(v, 0, end, cmp, ctx);
  }
}

#endif /* EDGEC_KERNELS_REF_SORT_H_ */
