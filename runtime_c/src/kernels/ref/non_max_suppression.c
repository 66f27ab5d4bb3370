/* NonMaxSuppression, per ONNX (docs/dynamic_shapes.md). Inputs: boxes float32
 * [B, N, 4], scores float32 [B, C, N], and optional scalars
 * max_output_boxes_per_class (int64; absent: 0, ONNX's default, selects
 * nothing; negative: 0), iou_threshold (float32; absent: 0) and
 * score_threshold (float32; absent: no filter). For each batch and class, the
 * boxes whose score is above score_threshold, highest score first (ties: the
 * lower index), are selected greedily unless their IoU with a box already
 * selected is strictly above iou_threshold, up to max_output_boxes_per_class.
 * Boxes are [y1, x1, y2, x2] (any two opposite corners) or, with
 * AxisOptions.flags bit 0 (center_point_box), [x_center, y_center, width,
 * height]. Output int64 [count, 3] of (batch, class, box), count
 * data-dependent, planned for B * C * min(N, max) when max is a constant and
 * B * C * N otherwise. Workspace: 16 bytes per box. */
#include "kernel.h"
#include "kernels/ref/sort.h"

typedef struct nms_params {
  int64_t batches, classes, boxes, bound;
  bool center;
} nms_params;

static bool scalar_of(const ec_tensor_desc *t, ec_dtype dt) {
  return t == NULL || (t->dtype == dt && t->numel == 1);
}

static ec_status prepare_nms(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 5, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *boxes = n->tin[0], *scores = n->tin[1], *y = n->tout[0];
  const ec_tensor_desc *maxb = n->n_in > 2 ? n->tin[2] : NULL;
  st = ec_check_dtype(n, boxes, EC_FLOAT32, "boxes");
  if (st == EC_OK) st = ec_check_dtype(n, scores, EC_FLOAT32, "scores");
  if (st == EC_OK) st = ec_check_dtype(n, y, EC_INT64, "output");
  if (st == EC_OK) st = ec_check_dyn(n, y, 1u, "output");
  if (st != EC_OK) return st;
  if (!scalar_of(maxb, EC_INT64) || !scalar_of(n->n_in > 3 ? n->tin[3] : NULL, EC_FLOAT32) ||
      !scalar_of(n->n_in > 4 ? n->tin[4] : NULL, EC_FLOAT32))
    return ec_node_error(n, EC_ERR_DTYPE, "max_output_boxes_per_class must be an int64 "
                         "scalar, the thresholds float32 scalars");
  if (boxes->rank != 3 || boxes->shape[2] != 4 || scores->rank != 3 ||
      scores->shape[0] != boxes->shape[0] || scores->shape[2] != boxes->shape[1])
    return ec_node_error(n, EC_ERR_SHAPE, "boxes must be [B, N, 4] and scores [B, C, N]");
  const int64_t B = boxes->shape[0], C = scores->shape[1], N = boxes->shape[1];
  int64_t per_class = maxb == NULL ? 0 : N; /* absent: 0; a constant tightens the bound */
  if (maxb != NULL && maxb->const_data != NULL) {
    const int64_t m = *(const int64_t *)maxb->const_data;
    per_class = m < 0 ? 0 : m < N ? m : N;
  }
  if (y->rank != 2 || y->shape[1] != 3 || y->shape[0] < B * C * per_class ||
      y->shape[0] > B * C * N)
    return ec_node_error(n, EC_ERR_SHAPE, "output must be [K, 3], K from %lld to %lld",
                         (long long)(B * C * per_class), (long long)(B * C * N));
  st = ec_check_scratch(n, (uint64_t)N * 16);
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(nms_params));
  if (st != EC_OK) return st;
  nms_params *p = n->params;
  p->batches = B;
  p->classes = C;
  p->boxes = N;
  p->bound = y->shape[0];
  p->center = (n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS && (n->opt.u.axis.flags & 1u));
  return EC_OK;
}

static int by_score(const void *ctx, int64_t a, int64_t b) {
  const float *s = ctx;
  if (s[a] != s[b]) return s[a] > s[b] ? -1 : 1;
  return a < b ? -1 : a > b;
}

/* [xmin, ymin, xmax, ymax] of box b (ONNX's reference, in float32). */
static void corners(const float *b, bool center, float *c) {
  if (center) {
    const float hw = b[2] / 2, hh = b[3] / 2;
    c[0] = b[0] - hw;
    c[2] = b[0] + hw;
    c[1] = b[1] - hh;
    c[3] = b[1] + hh;
  } else {
    c[0] = b[1] < b[3] ? b[1] : b[3];
    c[2] = b[1] < b[3] ? b[3] : b[1];
    c[1] = b[0] < b[2] ? b[0] : b[2];
    c[3] = b[0] < b[2] ? b[2] : b[0];
  }
}

static bool suppresses(const float *a, const float *b, bool center, float iou) {
  float p[4], q[4];
  corners(a, center, p);
  corners(b, center, q);
  const float ix0 = p[0] > q[0] ? p[0] : q[0], ix1 = p[2] < q[2] ? p[2] : q[2];
  if (ix1 <= ix0) return false;
  const float iy0 = p[1] > q[1] ? p[1] : q[1], iy1 = p[3] < q[3] ? p[3] : q[3];
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  if (inter <= 0) return false;
  const float area_a = (p[2] - p[0]) * (p[3] - p[1]), area_b = (q[2] - q[0]) * (q[3] - q[1]);
  const float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou;
}

static void eval_nms(const ec_node *n, const ec_exec *ex) {
  const nms_params *p = n->params;
  const float *boxes = ex->data[n->in[0]], *scores = ex->data[n->in[1]];
  int64_t max_per_class = 0, total = 0;
  float iou = 0, score_min = 0;
  const bool filter = n->n_in > 4 && n->in[4] >= 0;
  if (n->n_in > 2 && n->in[2] >= 0) max_per_class = *(const int64_t *)ex->data[n->in[2]];
  if (n->n_in > 3 && n->in[3] >= 0) iou = *(const float *)ex->data[n->in[3]];
  if (filter) score_min = *(const float *)ex->data[n->in[4]];
  int64_t *cand = (int64_t *)(void *)ex->workspace[0], *sel = cand + p->boxes;
  int64_t *y = ex->data[n->out[0]];
  for (int64_t b = 0; b < p->batches; b++) {
    const float *bb = boxes + b * p->boxes * 4;
    for (int64_t c = 0; c < p->classes; c++) {
      const float *s = scores + (b * p->classes + c) * p->boxes;
      int64_t m = 0, picked = 0;
      for (int64_t i = 0; i < p->boxes; i++)
        if (!filter || s[i] > score_min) cand[m++] = i;
      ec_sort_indices(cand, m, by_score, s);
      for (int64_t t = 0; t < m && picked < max_per_class && total < p->bound; t++) {
        const int64_t i = cand[t];
        bool keep = true;
        for (int64_t k = 0; keep && k < picked; k++)
          keep = !suppresses(bb + i * 4, bb + sel[k] * 4, p->center, iou);
        if (!keep) continue;
        sel[picked++] = i;
        y[total * 3] = b;
        y[total * 3 + 1] = c;
        y[total * 3 + 2] = i;
        total++;
      }
    }
  }
  ec_set_dim(ex, n->tout[0], 0, total);
}

EC_KERNEL(ec_kernel_non_max_suppression, "non_max_suppression", prepare_nms, eval_nms)
