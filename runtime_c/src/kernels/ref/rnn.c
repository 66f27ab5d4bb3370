/* RNN, GRU and LSTM layers on float32, as ONNX defines them: inputs
 * (X, W, R, B, sequence_lens, initial_h[, initial_c, P]) with absent
 * optional inputs -1, outputs (Y, Y_h[, Y_c]) all present. AxisOptions:
 * size = hidden_size, epsilon = clip (0: none), axes = the activation
 * functions per direction (0 sigmoid, 1 tanh, 2 relu; empty: ONNX's
 * defaults), flags bits 0-1 = direction (0 forward, 1 reverse,
 * 2 bidirectional), bit 2 = layout 1 (batch first), bit 3 = GRU
 * linear_before_reset. Gate order as ONNX: GRU z, r, h; LSTM i, o, f, c;
 * peepholes P = [Pi, Po, Pf]. Y_h (and Y_c) hold the running state, so the
 * last step's state is left there; steps past a batch entry's sequence
 * length give zeros in Y. Needs a workspace of (gates + 1) * hidden floats. */
#include <math.h>
#include <string.h>

#include "kernel.h"

enum { KIND_RNN = 0, KIND_GRU = 1, KIND_LSTM = 2 };
static const int32_t GATES[3] = {1, 3, 4};
static const int32_t ACTS[3] = {1, 2, 3};

typedef struct rnn_params {
  int32_t kind, dirs;
  int64_t seq, batch, in, hidden;
  bool reverse_only, batch_first, lbr, seq64;
  float clip;
  int32_t act[2][3];
} rnn_params;

static ec_status check_shape(const ec_node *n, const ec_tensor_desc *t, const char *what,
                             int32_t rank, const int64_t *dims) {
  bool ok = t->rank == rank;
  for (int32_t d = 0; ok && d < rank; d++) ok = t->shape[d] == dims[d];
  if (ok) return ec_check_dtype(n, t, EC_FLOAT32, what);
  return ec_node_error(n, EC_ERR_SHAPE, "%s has the wrong shape (rank %d)", what, t->rank);
}

static const ec_tensor_desc *in_at(const ec_node *n, int32_t i) {
  return i < n->n_in ? n->tin[i] : NULL;
}

static ec_status prepare(ec_node *n, int32_t kind) {
  const int32_t max_in = kind == KIND_LSTM ? 8 : 6, n_out = kind == KIND_LSTM ? 3 : 2;
  ec_status st = ec_check_arity(n, 3, max_in, n_out);
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_axis_options *o = &n->opt.u.axis;
  const uint32_t dir = o->flags & 3u;
  if (dir > 2) return ec_node_error(n, EC_ERR_FORMAT, "direction %u", dir);
  const int32_t dirs = dir == 2 ? 2 : 1, g = GATES[kind];
  const bool bf = (o->flags & 4u) != 0;
  const ec_tensor_desc *x = n->tin[0];
  if (x->rank != 3 || o->size < 1)
    return ec_node_error(n, EC_ERR_SHAPE, "X rank %d, hidden_size %lld", x->rank,
                         (long long)o->size);
  st = ec_check_dtype(n, x, EC_FLOAT32, "X");
  if (st != EC_OK) return st;
  const int64_t seq = bf ? x->shape[1] : x->shape[0], batch = bf ? x->shape[0] : x->shape[1];
  const int64_t in = x->shape[2], h = o->size;
  if (h > ((int64_t)1 << 24)) return ec_node_error(n, EC_ERR_SHAPE, "hidden_size too large");
  const int64_t wd[3] = {dirs, g * h, in}, rd[3] = {dirs, g * h, h};
  const int64_t bd[2] = {dirs, 2 * g * h}, pd[2] = {dirs, 3 * h};
  const int64_t state[3] = {bf ? batch : dirs, bf ? dirs : batch, h};
  const int64_t yd[4] = {bf ? batch : seq, bf ? seq : dirs, bf ? dirs : batch, h};
  st = check_shape(n, n->tin[1], "W", 3, wd);
  if (st == EC_OK) st = check_shape(n, n->tin[2], "R", 3, rd);
  if (st == EC_OK && in_at(n, 3)) st = check_shape(n, in_at(n, 3), "B", 2, bd);
  if (st == EC_OK && in_at(n, 5)) st = check_shape(n, in_at(n, 5), "initial_h", 3, state);
  if (st == EC_OK && in_at(n, 6)) st = check_shape(n, in_at(n, 6), "initial_c", 3, state);
  if (st == EC_OK && in_at(n, 7)) st = check_shape(n, in_at(n, 7), "P", 2, pd);
  if (st == EC_OK) st = check_shape(n, n->tout[0], "Y", 4, yd);
  if (st == EC_OK) st = check_shape(n, n->tout[1], "Y_h", 3, state);
  if (st == EC_OK && kind == KIND_LSTM) st = check_shape(n, n->tout[2], "Y_c", 3, state);
  if (st != EC_OK) return st;
  const ec_tensor_desc *sl = in_at(n, 4);
  if (sl && ((sl->dtype != EC_INT32 && sl->dtype != EC_INT64) || sl->rank != 1 ||
             sl->shape[0] != batch))
    return ec_node_error(n, EC_ERR_SHAPE, "sequence_lens must be int32 [batch]");
  const int32_t n_act = ACTS[kind];
  if (o->axes.n != 0 && o->axes.n != n_act * dirs)
    return ec_node_error(n, EC_ERR_FORMAT, "%d activations, expected %d", o->axes.n,
                         n_act * dirs);
  for (int32_t i = 0; i < o->axes.n; i++)
    if (o->axes.v[i] < 0 || o->axes.v[i] > 2)
      return ec_node_error(n, EC_ERR_FORMAT, "activation code %lld", (long long)o->axes.v[i]);
  st = ec_check_scratch(n, (uint64_t)(g + 1) * (uint64_t)h * sizeof(float));
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(rnn_params));
  if (st != EC_OK) return st;
  rnn_params *p = n->params;
  p->kind = kind;
  p->dirs = dirs;
  p->reverse_only = dir == 1;
  p->batch_first = bf;
  p->lbr = (o->flags & 8u) != 0;
  p->seq64 = sl && sl->dtype == EC_INT64;
  p->clip = o->epsilon;
  p->seq = seq;
  p->batch = batch;
  p->in = in;
  p->hidden = h;
  static const int32_t defaults[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 1, 1}};
  for (int32_t d = 0; d < dirs; d++)
    for (int32_t a = 0; a < n_act; a++)
      p->act[d][a] = o->axes.n ? (int32_t)o->axes.v[d * n_act + a] : defaults[kind][a];
  return EC_OK;
}

static ec_status prepare_rnn(ec_node *n) { return prepare(n, KIND_RNN); }
static ec_status prepare_gru(ec_node *n) { return prepare(n, KIND_GRU); }
static ec_status prepare_lstm(ec_node *n) { return prepare(n, KIND_LSTM); }

static inline float act(int32_t code, float v) {
  switch (code) {
    case 0: return 1.0f / (1.0f + expf(-v));
    case 1: return tanhf(v);
    default: return v > 0.0f ? v : 0.0f;
  }
}

static inline float clipf(const rnn_params *p, float v) {
  if (p->clip > 0.0f) return v < -p->clip ? -p->clip : (v > p->clip ? p->clip : v);
  return v;
}

static void eval(const ec_node *n, const ec_exec *ex) {
  const rnn_params *p = n->params;
  const int64_t S = p->seq, B = p->batch, I = p->in, H = p->hidden, D = p->dirs;
  const int32_t g = GATES[p->kind];
  const float *x = ex->data[n->in[0]];
  const float *W = ex->data[n->in[1]], *R = ex->data[n->in[2]];
  const float *bias = n->n_in > 3 && n->in[3] >= 0 ? ex->data[n->in[3]] : NULL;
  const void *lens = n->n_in > 4 && n->in[4] >= 0 ? ex->data[n->in[4]] : NULL;
  const float *h0 = n->n_in > 5 && n->in[5] >= 0 ? ex->data[n->in[5]] : NULL;
  const float *c0 = n->n_in > 6 && n->in[6] >= 0 ? ex->data[n->in[6]] : NULL;
  const float *peep = n->n_in > 7 && n->in[7] >= 0 ? ex->data[n->in[7]] : NULL;
  float *y = ex->data[n->out[0]], *yh = ex->data[n->out[1]];
  float *yc = p->kind == KIND_LSTM ? ex->data[n->out[2]] : NULL;
  float *gates = (float *)ex->workspace[0], *tmp = gates + g * H;
  const size_t state_bytes = (size_t)(D * B * H) * sizeof(float);
  if (h0) memcpy(yh, h0, state_bytes); else memset(yh, 0, state_bytes);
  if (yc) {
    if (c0) memcpy(yc, c0, state_bytes); else memset(yc, 0, state_bytes);
  }
  memset(y, 0, (size_t)(S * D * B * H) * sizeof(float));
  for (int64_t d = 0; d < D; d++) {
    const bool reverse = p->reverse_only || d == 1;
    const float *Wd = W + d * g * H * I, *Rd = R + d * g * H * H;
    const float *Wb = bias ? bias + d * 2 * g * H : NULL, *Rb = Wb ? Wb + g * H : NULL;
    const float *Pd = peep ? peep + d * 3 * H : NULL;
    const int32_t *a = p->act[d];
    for (int64_t b = 0; b < B; b++) {
      int64_t len = S;
      if (lens) len = p->seq64 ? ((const int64_t *)lens)[b] : ((const int32_t *)lens)[b];
      if (len < 0) len = 0;
      if (len > S) len = S;
      const int64_t so = p->batch_first ? (b * D + d) * H : (d * B + b) * H;
      float *hs = yh + so, *cs = yc ? yc + so : NULL;
      for (int64_t step = 0; step < len; step++) {
        const int64_t t = reverse ? len - 1 - step : step;
        const float *xt = x + (p->batch_first ? (b * S + t) : (t * B + b)) * I;
        /* gates = X W^T (+ Wb), and H R^T (+ Rb) added below per kind */
        for (int64_t r = 0; r < g * H; r++) {
          float acc = Wb ? Wb[r] : 0.0f;
          const float *w = Wd + r * I;
          for (int64_t i = 0; i < I; i++) acc += xt[i] * w[i];
          gates[r] = acc;
        }
        if (p->kind == KIND_RNN) {
          for (int64_t r = 0; r < H; r++) {
            float acc = gates[r] + (Rb ? Rb[r] : 0.0f);
            for (int64_t k = 0; k < H; k++) acc += hs[k] * Rd[r * H + k];
            tmp[r] = act(a[0], clipf(p, acc));
          }
          memcpy(hs, tmp, (size_t)H * sizeof(float));
        } else if (p->kind == KIND_GRU) {
          /* z and r gates; tmp = r (later r * H) */
          for (int64_t r = 0; r < 2 * H; r++) {
            float acc = gates[r] + (Rb ? Rb[r] : 0.0f);
            for (int64_t k = 0; k < H; k++) acc += hs[k] * Rd[r * H + k];
            gates[r] = act(a[0], clipf(p, acc));
          }
          const float *z = gates, *rg = gates + H;
          float *hh = gates + 2 * H;
          for (int64_t r = 0; r < H; r++) {
            const float *rr = Rd + (2 * H + r) * H;
            const float rb = Rb ? Rb[2 * H + r] : 0.0f;
            float acc = 0.0f;
            if (p->lbr) {
              for (int64_t k = 0; k < H; k++) acc += hs[k] * rr[k];
              acc = rg[r] * (acc + rb);
            } else {
              for (int64_t k = 0; k < H; k++) acc += rg[k] * hs[k] * rr[k];
              acc += rb;
            }
            tmp[r] = act(a[1], clipf(p, hh[r] + acc));
          }
          for (int64_t r = 0; r < H; r++) hs[r] = (1.0f - z[r]) * tmp[r] + z[r] * hs[r];
        } else {
          for (int64_t r = 0; r < 4 * H; r++) {
            float acc = gates[r] + (Rb ? Rb[r] : 0.0f);
            for (int64_t k = 0; k < H; k++) acc += hs[k] * Rd[r * H + k];
            gates[r] = acc;
          }
          for (int64_t r = 0; r < H; r++) {
            float i = gates[r], o = gates[H + r], f = gates[2 * H + r], c = gates[3 * H + r];
            if (Pd) {
              i += Pd[r] * cs[r];
              f += Pd[2 * H + r] * cs[r];
            }
            i = act(a[0], clipf(p, i));
            f = act(a[0], clipf(p, f));
            c = act(a[1], clipf(p, c));
            const float cn = f * cs[r] + i * c;
            if (Pd) o += Pd[H + r] * cn;
            o = act(a[0], clipf(p, o));
            cs[r] = cn;
            tmp[r] = o * act(a[2], cn);
          }
          memcpy(hs, tmp, (size_t)H * sizeof(float));
        }
        float *yt = y + (p->batch_first ? ((b * S + t) * D + d) : ((t * D + d) * B + b)) * H;
        memcpy(yt, hs, (size_t)H * sizeof(float));
      }
    }
  }
}

EC_KERNEL(ec_kernel_rnn, "rnn", prepare_rnn, eval)
EC_KERNEL(ec_kernel_gru, "gru", prepare_gru, eval)
EC_KERNEL(ec_kernel_lstm, "lstm", prepare_lstm, eval)
