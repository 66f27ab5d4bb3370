/* DFT on float32 along AxisOptions.axis (not the last dim, which holds one
 * real or two (real, imaginary) values per element), by the O(n^2)
 * definition in double precision. size = the DFT length L (the signal is
 * zero-padded or truncated to it); flags bit 0: inverse (scaled by 1/L),
 * bit 1: onesided (forward: the first L/2 + 1 frequencies; inverse: the input
 * is those frequencies of a Hermitian spectrum and the output is real). */
#include <math.h>

#include "kernel.h"

typedef struct dft_params {
  int64_t outer, inner, n_in, n_out, len;
  int64_t c_in, c_out;
  bool inverse, onesided;
} dft_params;

static ec_status prepare_dft(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  st = ec_check_dtype(n, x, EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, y, EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_axis_options *o = &n->opt.u.axis;
  const int64_t axis = o->axis, len = o->size;
  const bool inverse = (o->flags & 1u) != 0, onesided = (o->flags & 2u) != 0;
  if (x->rank < 2 || y->rank != x->rank || axis < 0 || axis >= x->rank - 1 || len < 1 ||
      len > ((int64_t)1 << 24))
    return ec_node_error(n, EC_ERR_SHAPE, "rank %d, axis %lld, length %lld", x->rank,
                         (long long)axis, (long long)len);
  const int64_t c_in = x->shape[x->rank - 1], c_out = y->shape[y->rank - 1];
  const int64_t want_n = inverse ? len : (onesided ? len / 2 + 1 : len);
  const int64_t want_c = inverse && onesided ? 1 : 2;
  if ((c_in != 1 && c_in != 2) || c_out != want_c || y->shape[axis] != want_n)
    return ec_node_error(n, EC_ERR_SHAPE, "output has %lld x %lld values, expected %lld x %lld",
                         (long long)y->shape[axis], (long long)c_out, (long long)want_n,
                         (long long)want_c);
  for (int32_t d = 0; d < x->rank - 1; d++)
    if (d != axis && x->shape[d] != y->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "dimension %d differs between input and output", d);
  st = ec_alloc_params(n, sizeof(dft_params));
  if (st != EC_OK) return st;
  dft_params *p = n->params;
  p->inverse = inverse;
  p->onesided = onesided;
  p->len = len;
  p->c_in = c_in;
  p->c_out = c_out;
  if (y->numel == 0 || x->numel == 0) return EC_OK;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < x->rank - 1; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->n_in = x->shape[axis];
  p->n_out = want_n;
  return EC_OK;
}

static void eval_dft(const ec_node *n, const ec_exec *ex) {
  const dft_params *p = n->params;
  const float *x = ex->data[n->in[0]];
  float *y = ex->data[n->out[0]];
  if (p->outer == 0) {
    for (int64_t i = 0; i < n->tout[0]->numel; i++) y[i] = 0.0f;
    return;
  }
  const double two_pi = 6.283185307179586476925;
  const double sign = p->inverse ? 1.0 : -1.0, scale = p->inverse ? 1.0 / (double)p->len : 1.0;
  const int64_t L = p->len, avail = p->n_in < L ? p->n_in : L;
  /* the one-sided spectrum an inverse real transform reads: at most L/2 + 1 entries */
  const int64_t half = p->n_in < L / 2 + 1 ? p->n_in : L / 2 + 1;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      for (int64_t k = 0; k < p->n_out; k++) {
        double re = 0.0, im = 0.0;
        for (int64_t t = 0; t < L; t++) {
          double xr, xi;
          if (p->inverse && p->onesided) { /* Hermitian: X[L - t] = conj(X[t]) */
            const bool mirrored = t >= half;
            const int64_t s = mirrored ? L - t : t;
            if (s >= half) continue;
            const float *e = x + ((o * p->n_in + s) * p->inner + i) * p->c_in;
            xr = e[0];
            xi = p->c_in == 2 ? (mirrored ? -e[1] : e[1]) : 0.0;
          } else {
            if (t >= avail) break;
            const float *e = x + ((o * p->n_in + t) * p->inner + i) * p->c_in;
            xr = e[0];
            xi = p->c_in == 2 ? e[1] : 0.0;
          }
          const double angle = sign * two_pi * (double)((k * t) % L) / (double)L;
          const double c = cos(angle), s = sin(angle);
          re += xr * c - xi * s;
          im += xr * s + xi * c;
        }
        float *out = y + ((o * p->n_out + k) * p->inner + i) * p->c_out;
        out[0] = (float)(re * scale);
        if (p->c_out == 2) out[1] = (float)(im * scale);
      }
    }
}

EC_KERNEL(ec_kernel_dft, "dft", prepare_dft, eval_dft)
