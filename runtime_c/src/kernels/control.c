/* Control flow: IF and LOOP run nested blocks of the program (ControlOptions in
 * schemas/edgec.fbs). prepare verifies an instruction against its blocks at
 * load; eval runs a block's instructions in the session's arena, one
 * recursion per nesting level (at most EC_MAX_NESTING), allocating nothing. */
#include <string.h>

#include "fb.h"
#include "model.h"

typedef struct ctl_params {
  const ec_block *blk[2];
  int32_t n_bin, n_bout, n_carried;
  int64_t max_trips;
  int32_t ids[]; /* block inputs, then block outputs */
} ctl_params;

#define ERR(...) ec_node_error(n, EC_ERR_FORMAT, __VA_ARGS__)

static void run_block(const ec_block *b, const ec_exec *e) {
  for (size_t i = 0; i < b->n_nodes; i++) b->nodes[i].eval(&b->nodes[i], e);
}

static void copy(const ec_exec *e, int32_t dst, int32_t src, size_t size) {
  if (dst != src) memmove(e->data[dst], e->data[src], size);
}

static void eval_if(const ec_node *n, const ec_exec *e) {
  const ctl_params *p = n->params;
  bool c = *(const uint8_t *)e->data[n->in[0]] != 0;
  run_block(p->blk[c ? 0 : 1], e);
  const int32_t *src = p->ids + (c ? 0 : n->n_out);
  for (int32_t k = 0; k < n->n_out; k++) copy(e, n->out[k], src[k], n->tout[k]->size);
}

#ifdef EDGEC_FUZZING
/* A Loop runs as long as its model says (a trip count from an input, or
 * until its condition turns false), which is not a fault. The fuzzer, which
 * looks for faults, would spend its time-out in such loops: in fuzzing builds
 * the iterations of one top-level LOOP, nested ones included, are capped. */
enum { FUZZ_TRIPS = 256 };
static _Thread_local int64_t fuzz_trips_left;
static _Thread_local int32_t fuzz_depth;
#define FUZZ_ENTER() (fuzz_depth++ == 0 ? (void)(fuzz_trips_left = FUZZ_TRIPS) : (void)0)
#define FUZZ_MORE() (fuzz_trips_left-- > 0)
#define FUZZ_LEAVE() (void)fuzz_depth--
#else
#define FUZZ_ENTER() (void)0
#define FUZZ_MORE() true
#define FUZZ_LEAVE() (void)0
#endif

static void eval_loop(const ec_node *n, const ec_exec *e) {
  const ctl_params *p = n->params;
  const int32_t *bin = p->ids, *bout = p->ids + p->n_bin;
  int64_t trips = INT64_MAX;
  if (n->in[0] >= 0) memcpy(&trips, e->data[n->in[0]], sizeof trips);
  bool c = n->in[1] < 0 || *(const uint8_t *)e->data[n->in[1]] != 0;
  int32_t nc = p->n_carried;
  FUZZ_ENTER();
  for (int32_t k = 0; k < nc; k++) copy(e, bin[2 + k], n->in[2 + k], n->tin[2 + k]->size);
  for (int64_t i = 0; i < trips && c && FUZZ_MORE(); i++) {
    if (bin[0] >= 0) memcpy(e->data[bin[0]], &i, sizeof i);
    if (bin[1] >= 0) *(uint8_t *)e->data[bin[1]] = 1;
    run_block(p->blk[0], e);
    c = *(const uint8_t *)e->data[bout[0]] != 0;
    for (int32_t s = nc; s < n->n_out && i < p->max_trips; s++) {
      size_t piece = n->tout[s]->size / (size_t)p->max_trips;
      memcpy((uint8_t *)e->data[n->out[s]] + (size_t)i * piece, e->data[bout[1 + s]], piece);
    }
    for (int32_t k = 0; k < nc; k++) copy(e, bin[2 + k], bout[1 + k], n->tout[k]->size);
  }
  for (int32_t k = 0; k < nc; k++) copy(e, n->out[k], bin[2 + k], n->tout[k]->size);
  FUZZ_LEAVE();
}


/* t is a tensor index in range (or -1 where absent is allowed). */
static bool valid(const ec_model *m, int32_t t, bool absent_ok) {
  return (absent_ok && t == -1) || (t >= 0 && (size_t)t < m->n_tensors);
}

static bool scalar(const ec_model *m, int32_t t, ec_dtype dtype) {
  return t < 0 || (m->tensors[t].dtype == dtype && m->tensors[t].numel == 1);
}

static bool like(const ec_model *m, int32_t a, const ec_tensor_desc *b) {
  return m->tensors[a].dtype == b->dtype && m->tensors[a].size == b->size;
}

static ec_status prepare_control(ec_node *n) {
  const ec_control_ctx *ctx = n->params;
  n->params = NULL; /* the context lives on the loader's stack */
  if (ctx == NULL) return ERR("no control context");
  ec_model *m = ctx->m;
  const fb_table *opts = ctx->opts;
  int32_t self = ctx->self;
  fb_vector blocks, bin, bout;
  int64_t max_trips;
  bool loop = n->opcode == EC_FB_OPCODE_LOOP;
  if (opts == NULL) return ERR("%s without ControlOptions", loop ? "Loop" : "If");
  if (!fb_vector_field(opts, EC_FB_CONTROLOPTIONS_BLOCKS, 4, &blocks) ||
      !fb_vector_field(opts, EC_FB_CONTROLOPTIONS_BLOCK_INPUTS, 4, &bin) ||
      !fb_vector_field(opts, EC_FB_CONTROLOPTIONS_BLOCK_OUTPUTS, 4, &bout) ||
      !fb_i64(opts, EC_FB_CONTROLOPTIONS_MAX_TRIPS, EC_FB_CONTROLOPTIONS_MAX_TRIPS_DEFAULT,
              &max_trips) ||
      bin.len > 4096 || bout.len > 8192)
    return ERR("malformed ControlOptions");
  if (blocks.len != (loop ? 1u : 2u))
    return ERR("%s names %u blocks, needs %d", loop ? "Loop" : "If", blocks.len,
               loop ? 1 : 2);
  ec_status st = ec_alloc_params(n, sizeof(ctl_params) + sizeof(int32_t) * (bin.len + bout.len));
  if (st != EC_OK) return st;
  ctl_params *p = n->params;
  ec_block *parent = &m->blocks[self < 0 ? m->n_blocks : (size_t)self];
  for (uint32_t k = 0; k < blocks.len; k++) {
    uint32_t b = fb_vec_u32(&blocks, k);
    if (b >= m->n_blocks || (int64_t)b <= self)
      return ERR("runs block %u: not one of blocks %d..%zu after its own", b, self + 1,
                 m->n_blocks);
    if (m->blocks[b].claimed) return ERR("block %u is run by two instructions", b);
    m->blocks[b].claimed = true;
    p->blk[k] = &m->blocks[b];
    if (m->blocks[b].height + 1 > parent->height) parent->height = m->blocks[b].height + 1;
  }
  p->n_bin = (int32_t)bin.len;
  p->n_bout = (int32_t)bout.len;
  for (uint32_t k = 0; k < bin.len + bout.len; k++) {
    int32_t t = k < bin.len ? fb_vec_i32(&bin, k) : fb_vec_i32(&bout, k - bin.len);
    bool written = k < bin.len; /* block inputs are written by the instruction */
    if (!valid(m, t, written && k < 2) ||
        (written && t >= 0 && m->tensors[t].storage != EC_FB_STORAGEKIND_ARENA))
      return ERR("block %s %u is tensor %d (of %zu; written ones in the arena)",
                 written ? "input" : "output", written ? k : k - bin.len, t, m->n_tensors);
    if (t >= 0 && m->tensors[t].dyn_slot >= 0)
      return ERR("block %s %u is data-dependent tensor '%s' (values pass in and out of "
                 "blocks at their static shape)", written ? "input" : "output",
                 written ? k : k - bin.len, m->tensors[t].name);
    p->ids[k] = t;
  }
  const int32_t *bo = p->ids + bin.len;
  if (!loop) {
    if (n->n_in < 1 || !scalar(m, n->in[0], EC_BOOL) || n->in[0] < 0)
      return ERR("IF needs a bool scalar condition");
    if (bin.len != 0 || bout.len != 2u * (uint32_t)n->n_out)
      return ERR("IF with %d outputs has %u block inputs and %u block outputs", n->n_out,
                 bin.len, bout.len);
    for (int32_t k = 0; k < 2 * n->n_out; k++)
      if (!like(m, bo[k], n->tout[k % n->n_out]))
        return ERR("block output %d differs from output %d in dtype or size", k,
                   k % n->n_out);
    return EC_OK;
  }
  /* LOOP */
  int32_t nc = (int32_t)bin.len - 2, ns = n->n_out - nc;
  p->n_carried = nc;
  p->max_trips = max_trips;
  if (nc < 0 || ns < 0 || n->n_in < 2 + nc || bout.len != 1u + (uint32_t)n->n_out)
    return ERR("LOOP: %d inputs, %d outputs, %u block inputs and %u block outputs do not "
               "match", n->n_in, n->n_out, bin.len, bout.len);
  if (!scalar(m, n->in[0], EC_INT64) || !scalar(m, n->in[1], EC_BOOL) ||
      !scalar(m, p->ids[0], EC_INT64) || !scalar(m, p->ids[1], EC_BOOL) ||
      !scalar(m, bo[0], EC_BOOL) || bo[0] < 0)
    return ERR("LOOP: the trip count and iteration must be int64 scalars, the conditions "
               "bool scalars");
  for (int32_t k = 0; k < nc; k++)
    if (n->in[2 + k] < 0 || !like(m, p->ids[2 + k], n->tin[2 + k]) ||
        !like(m, p->ids[2 + k], n->tout[k]) || !like(m, bo[1 + k], n->tout[k]))
      return ERR("LOOP: carried value %d changes dtype or size", k);
  if (ns > 0 && (max_trips < 0 || max_trips > ((int64_t)1 << 24)))
    return ERR("LOOP: scan outputs need max_trips in 0..2^24, not %lld",
               (long long)max_trips);
  for (int32_t s = nc; s < n->n_out; s++) {
    const ec_tensor_desc *piece = &m->tensors[bo[1 + s]], *all = n->tout[s];
    if (piece->dtype != all->dtype || (uint64_t)piece->size * (uint64_t)max_trips != all->size)
      return ERR("LOOP: scan output %d is not %lld slices of its block output",
                 s - nc, (long long)max_trips);
  }
  return EC_OK;
}

EC_KERNEL(ec_kernel_if, "if", prepare_control, eval_if)
EC_KERNEL(ec_kernel_loop, "loop", prepare_control, eval_loop)
