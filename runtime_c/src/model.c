/* Decoding and verification of a .edgeb file. Every byte is checked once
 * here; the run path trusts what this produced. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "fb.h"
#include "sparse.h"

#define FOOTER_SIZE 16
#define SEGMENT_ALIGN 64
/* Bounds that keep every size computation far from overflow. */
#define MAX_ELEMENTS ((int64_t)1 << 40)
#define MAX_ITEMS (1u << 24)
#define MAX_SCRATCH ((uint64_t)1 << 32)

#define FMT_ERR(...) ec_set_error(EC_ERR_FORMAT, __VA_ARGS__)
/* "tensor I ('NAME'): ..." */
#define T_ERR(i, name, ...) ec_tensor_error(EC_ERR_FORMAT, i, name, __VA_ARGS__)

static uint64_t ld64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}

typedef struct segment {
  uint64_t offset, size; /* absolute file offset */
} segment;

typedef struct decoder {
  ec_model *m;
  fb_table root;
  uint64_t payload_end; /* end of segments = start of the footer */
  uint64_t segment_base;
  size_t n_segments;
  segment *segments;
  char where[24]; /* "block N: " while reading a block */
  uint8_t *dyn_written; /* per dyn slot: some instruction writes the tensor */
} decoder;

/* ---- options ------------------------------------------------------------ */

static bool read_ints(const fb_table *t, int id, ec_ints *out) {
  fb_vector v;
  if (!fb_vector_field(t, id, 8, &v) || v.len > 2 * EC_MAX_RANK) return false;
  out->n = (int32_t)v.len;
  for (uint32_t i = 0; i < v.len; i++) out->v[i] = fb_vec_i64(&v, i);
  return true;
}

/* The options tables' fields, read by one loop: the options type of each,
 * its kind, field id and place in ec_options; the default of a scalar is
 * dflt (a float's is dflt / 4: the schema's are 0, 1 and -0.75). */
enum { F_INTS, F_U8, F_BOOL, F_U32, F_I64, F_F32 };
typedef struct opt_field {
  uint8_t type, kind, id;
  int8_t dflt;
  uint16_t off;
} opt_field;

#define FLD(kind, table, field, member, dflt)                                       \
  {EC_FB_OPOPTIONS_##table, kind, EC_FB_##table##_##field, (int8_t)(dflt),         \
   (uint16_t)offsetof(ec_options, u.member)}
#define INTS(table, field, member) FLD(F_INTS, table, field, member, 0)
#define SCALAR(kind, table, field, member) \
  FLD(kind, table, field, member, EC_FB_##table##_##field##_DEFAULT)
#define F32(table, field, member) \
  FLD(F_F32, table, field, member, 4 * EC_FB_##table##_##field##_DEFAULT)
/* a stage of InvertedResidualOptions: activation, alpha, beta */
#define IR_ACT(i, ACT, ALPHA, BETA)                              \
  SCALAR(F_U8, INVERTEDRESIDUALOPTIONS, ACT, ir.act[i]),         \
      F32(INVERTEDRESIDUALOPTIONS, ALPHA, ir.alpha[i]),          \
      F32(INVERTEDRESIDUALOPTIONS, BETA, ir.beta[i])

static const opt_field fields[] = {
    INTS(CONVOPTIONS, STRIDES, conv.strides),
    INTS(CONVOPTIONS, PADS, conv.pads),
    INTS(CONVOPTIONS, DILATIONS, conv.dilations),
    SCALAR(F_I64, CONVOPTIONS, GROUP, conv.group),
    SCALAR(F_U8, CONVOPTIONS, ACTIVATION, conv.activation),
    F32(CONVOPTIONS, ACT_ALPHA, conv.act_alpha),
    F32(CONVOPTIONS, ACT_BETA, conv.act_beta),
    SCALAR(F_U8, POOLOPTIONS, KIND, pool.kind),
    INTS(POOLOPTIONS, KERNEL, pool.kernel),
    INTS(POOLOPTIONS, STRIDES, pool.strides),
    INTS(POOLOPTIONS, PADS, pool.pads),
    INTS(POOLOPTIONS, DILATIONS, pool.dilations),
    SCALAR(F_BOOL, POOLOPTIONS, COUNT_INCLUDE_PAD, pool.count_include_pad),
    SCALAR(F_I64, POOLOPTIONS, P, pool.p),
    SCALAR(F_BOOL, GEMMOPTIONS, TRANS_A, gemm.trans_a),
    SCALAR(F_BOOL, GEMMOPTIONS, TRANS_B, gemm.trans_b),
    F32(GEMMOPTIONS, ALPHA, gemm.alpha),
    F32(GEMMOPTIONS, BETA, gemm.beta),
    SCALAR(F_U8, GEMMOPTIONS, ACTIVATION, gemm.activation),
    F32(GEMMOPTIONS, ACT_ALPHA, gemm.act_alpha),
    F32(GEMMOPTIONS, ACT_BETA, gemm.act_beta),
    F32(UNARYOPTIONS, ALPHA, unary.alpha),
    F32(UNARYOPTIONS, BETA, unary.beta),
    SCALAR(F_BOOL, UNARYOPTIONS, APPROXIMATE, unary.approximate),
    SCALAR(F_I64, AXISOPTIONS, AXIS, axis.axis),
    INTS(AXISOPTIONS, AXES, axis.axes),
    SCALAR(F_BOOL, AXISOPTIONS, KEEPDIMS, axis.keepdims),
    F32(AXISOPTIONS, EPSILON, axis.epsilon),
    SCALAR(F_I64, AXISOPTIONS, SIZE, axis.size),
    F32(AXISOPTIONS, ALPHA, axis.alpha),
    F32(AXISOPTIONS, BETA, axis.beta),
    F32(AXISOPTIONS, BIAS, axis.bias),
    SCALAR(F_U32, AXISOPTIONS, FLAGS, axis.flags),
    INTS(TRANSPOSEOPTIONS, PERM, transpose.perm),
    INTS(SLICEOPTIONS, STARTS, slice.starts),
    INTS(SLICEOPTIONS, STEPS, slice.steps),
    INTS(PADOPTIONS, PADS, pad.pads),
    SCALAR(F_U8, PADOPTIONS, MODE, pad.mode),
    F32(PADOPTIONS, VALUE, pad.value),
    SCALAR(F_U8, RESIZEOPTIONS, MODE, resize.mode), /* and the scales, below */
    SCALAR(F_U8, RESIZEOPTIONS, COORD, resize.coord),
    SCALAR(F_U8, RESIZEOPTIONS, NEAREST, resize.nearest),
    F32(RESIZEOPTIONS, CUBIC_COEFF_A, resize.cubic_coeff_a),
    SCALAR(F_BOOL, RESIZEOPTIONS, EXCLUDE_OUTSIDE, resize.exclude_outside),
    /* ControlOptions: none here (read by the IF/LOOP prepare) */
    INTS(INVERTEDRESIDUALOPTIONS, STRIDES, ir.strides),
    INTS(INVERTEDRESIDUALOPTIONS, PADS, ir.pads),
    IR_ACT(0, EXPAND_ACTIVATION, EXPAND_ALPHA, EXPAND_BETA),
    IR_ACT(1, DW_ACTIVATION, DW_ALPHA, DW_BETA),
    IR_ACT(2, ACTIVATION, ACT_ALPHA, ACT_BETA),
};

static bool read_options(const fb_table *instr, ec_options *o) {
  fb_table t;
  bool present, ok = true;
  memset(o, 0, sizeof *o);
  if (!fb_u8(instr, EC_FB_INSTRUCTION_OPTIONS_TYPE, 0, &o->type) ||
      !fb_table_field(instr, EC_FB_INSTRUCTION_OPTIONS, &t, &present))
    return false;
  if (o->type == 0) return !present;
  if (!present || o->type > EC_FB_OPOPTIONS_COUNT) return false;
  for (const opt_field *f = fields; ok && f < fields + sizeof fields / sizeof *fields; f++) {
    void *out = (uint8_t *)o + f->off;
    if (f->type != o->type) continue;
    switch (f->kind) {
      case F_INTS: ok = read_ints(&t, f->id, out); break;
      case F_U8: ok = fb_u8(&t, f->id, (uint8_t)f->dflt, out); break;
      case F_BOOL: ok = fb_bool(&t, f->id, f->dflt != 0, out); break;
      case F_U32: ok = fb_u32(&t, f->id, (uint32_t)f->dflt, out); break;
      case F_I64: ok = fb_i64(&t, f->id, f->dflt, out); break;
      default: ok = fb_f32(&t, f->id, 0.25f * f->dflt, out); break;
    }
  }
  if (ok && o->type == EC_FB_OPOPTIONS_RESIZEOPTIONS) {
    fb_vector v;
    ec_resize_options *r = &o->u.resize;
    ok = fb_vector_field(&t, EC_FB_RESIZEOPTIONS_SCALES, 4, &v) && v.len <= EC_MAX_RANK;
    r->n_scales = (int32_t)v.len;
    for (uint32_t i = 0; ok && i < v.len; i++) r->scales[i] = fb_vec_f32(&v, i);
  }
  return ok;
}

/* ---- tensors ------------------------------------------------------------ */

static ec_status read_quant(const fb_table *q, ec_tensor_desc *td, size_t i) {
  fb_vector scales, zps;
  int32_t axis;
  if (!fb_vector_field(q, EC_FB_QUANTIZATION_SCALES, 4, &scales) ||
      !fb_vector_field(q, EC_FB_QUANTIZATION_ZERO_POINTS, 8, &zps) ||
      !fb_i32(q, EC_FB_QUANTIZATION_AXIS, EC_FB_QUANTIZATION_AXIS_DEFAULT, &axis))
    return FMT_ERR("tensor %zu: malformed quantization", i);
  if (scales.len == 0 || (zps.len != 0 && zps.len != scales.len))
    return FMT_ERR("tensor %zu: %u scales and %u zero points", i, scales.len,
                   zps.len);
  if (axis < -1 || axis >= td->rank ||
      (axis == -1 ? scales.len != 1
                  : (int64_t)scales.len != td->shape[axis]))
    return FMT_ERR("tensor %zu: quantization axis %d does not fit its shape", i,
                   axis);
  td->quant.scales = fb_vector_data(&scales);
  td->quant.zero_points = zps.len ? fb_vector_data(&zps) : NULL;
  td->quant.n = (int32_t)scales.len;
  td->quant.axis = axis;
  return EC_OK;
}

/* Tensor.sparse: resolves the encoding's segments, then sparse.c verifies it. */
static ec_status read_sparse(decoder *d, const fb_table *t, ec_tensor_desc *td, size_t i) {
  ec_sparse_raw raw;
  fb_vector block;
  uint32_t ip, ix;
  memset(&raw, 0, sizeof raw);
  if (!fb_u8(t, EC_FB_SPARSEENCODING_FORMAT, 0, &raw.format) ||
      !fb_vector_field(t, EC_FB_SPARSEENCODING_BLOCK, 4, &block) ||
      !fb_u8(t, EC_FB_SPARSEENCODING_INDEX_BYTES, EC_FB_SPARSEENCODING_INDEX_BYTES_DEFAULT,
             &raw.index_bytes) ||
      !fb_u32(t, EC_FB_SPARSEENCODING_INDPTR_SEGMENT, 0, &ip) ||
      !fb_u32(t, EC_FB_SPARSEENCODING_INDICES_SEGMENT, 0, &ix))
    return T_ERR(i, td->name, "malformed sparse encoding");
  if (ip >= d->n_segments || ix >= d->n_segments)
    return T_ERR(i, td->name, "sparse encoding names segments %u and %u of %zu", ip, ix,
                 d->n_segments);
  raw.n_block = block.len;
  for (uint32_t k = 0; k < block.len && k < 2; k++) raw.block[k] = fb_vec_i32(&block, k);
  raw.indptr = d->m->file + d->segments[ip].offset;
  raw.indptr_size = d->segments[ip].size;
  raw.indices = d->m->file + d->segments[ix].offset;
  raw.indices_size = d->segments[ix].size;
  return ec_sparse_verify(&raw, i, td);
}

static ec_status read_tensor(decoder *d, const fb_table *t, size_t i) {
  ec_tensor_desc *td = &d->m->tensors[i];
  fb_vector shape;
  uint8_t dtype;
  uint32_t seg;
  uint64_t offset, size;
  fb_table sub, sparse;
  bool present, is_sparse;
  td->dyn_slot = -1;
  if (!fb_string_field(t, EC_FB_TENSOR_NAME, &td->name) ||
      !fb_u8(t, EC_FB_TENSOR_DTYPE, 0, &dtype) ||
      !fb_vector_field(t, EC_FB_TENSOR_SHAPE, 8, &shape) ||
      !fb_u8(t, EC_FB_TENSOR_STORAGE, 0, &td->storage) ||
      !fb_u32(t, EC_FB_TENSOR_SEGMENT, 0, &seg) ||
      !fb_u64(t, EC_FB_TENSOR_OFFSET, 0, &offset) ||
      !fb_u64(t, EC_FB_TENSOR_SIZE, 0, &size) ||
      !fb_u32(t, EC_FB_TENSOR_DYNAMIC_DIMS, 0, &td->dyn_mask))
    return FMT_ERR("tensor %zu: malformed table", i);
  if (dtype > EC_FB_DTYPE_BFLOAT16)
    return T_ERR(i, td->name, "unknown dtype %u", dtype);
  td->dtype = (ec_dtype)dtype;
  if (shape.len > EC_MAX_RANK)
    return T_ERR(i, td->name, "rank %u exceeds %d", shape.len, EC_MAX_RANK);
  td->rank = (int32_t)shape.len;
  td->numel = 1;
  for (uint32_t k = 0; k < shape.len; k++) {
    int64_t dim = fb_vec_i64(&shape, k);
    if (dim < 0 || dim > MAX_ELEMENTS)
      return T_ERR(i, td->name, "dimension %u is %lld", k, (long long)dim);
    td->shape[k] = dim;
    if (dim != 0 && td->numel > MAX_ELEMENTS / dim)
      return T_ERR(i, td->name, "too many elements");
    td->numel *= dim;
  }
  td->size = (size_t)td->numel * ec_dtype_size(td->dtype);
  if (!fb_table_field(t, EC_FB_TENSOR_SPARSE, &sparse, &is_sparse))
    return FMT_ERR("tensor %zu: malformed sparse encoding", i);
  /* a sparse tensor stores fewer bytes: read_sparse checks them */
  if (is_sparse && size < td->size) td->size = (size_t)size;
  if (size != td->size)
    return T_ERR(i, td->name, "size %llu bytes, shape needs %zu", (unsigned long long)size,
                 td->size);
  td->offset = offset;
  if (td->storage == EC_FB_STORAGEKIND_ARENA) {
    if (offset > d->m->arena_size || size > d->m->arena_size - offset)
      return T_ERR(i, td->name, "[%llu, +%llu) outside the arena of %llu bytes",
                   (unsigned long long)offset, (unsigned long long)size,
                   (unsigned long long)d->m->arena_size);
    if (offset % 16 != 0)
      return T_ERR(i, td->name, "arena offset %llu not 16-byte aligned",
                   (unsigned long long)offset);
  } else if (td->storage == EC_FB_STORAGEKIND_CONSTANT) {
    if (seg >= d->n_segments)
      return T_ERR(i, td->name, "segment %u of %zu", seg, d->n_segments);
    const segment *s = &d->segments[seg];
    if (offset > s->size || size > s->size - offset)
      return T_ERR(i, td->name, "[%llu, +%llu) outside segment %u of %llu bytes",
                   (unsigned long long)offset, (unsigned long long)size, seg,
                   (unsigned long long)s->size);
    if (offset % 16 != 0)
      return T_ERR(i, td->name, "constant offset %llu not 16-byte aligned",
                   (unsigned long long)offset);
    td->const_data = d->m->file + s->offset + offset;
  } else {
    return T_ERR(i, td->name, "unknown storage %u", td->storage);
  }
  if (td->dyn_mask != 0) {
    if (td->rank >= 32 || td->dyn_mask >> td->rank != 0)
      return T_ERR(i, td->name, "data-dependent dims 0x%x outside rank %d", (unsigned)td->dyn_mask,
                   td->rank);
    if (td->storage != EC_FB_STORAGEKIND_ARENA || is_sparse)
      return T_ERR(i, td->name, "data-dependent dims on a constant");
    td->dyn_slot = (int32_t)d->m->n_dyn++;
  }
  if (!fb_table_field(t, EC_FB_TENSOR_QUANT, &sub, &present))
    return FMT_ERR("tensor %zu: malformed quantization", i);
  if (present) {
    ec_status st = read_quant(&sub, td, i);
    if (st != EC_OK) return st;
  }
  if (is_sparse) return read_sparse(d, &sparse, td, i);
  return EC_OK;
}

/* ---- program ------------------------------------------------------------ */

static ec_status read_segments(decoder *d) {
  fb_vector v;
  if (!fb_vector_field(&d->root, EC_FB_PROGRAM_SEGMENTS, 4, &v) ||
      v.len > MAX_ITEMS)
    return FMT_ERR("malformed segment list");
  d->n_segments = v.len;
  d->segments = calloc(v.len ? v.len : 1, sizeof *d->segments);
  if (!d->segments) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  uint64_t prev_end = d->segment_base;
  for (uint32_t i = 0; i < v.len; i++) {
    fb_table t;
    uint64_t off, size;
    if (!fb_vector_table(&v, i, &t) || !fb_u64(&t, EC_FB_SEGMENT_OFFSET, 0, &off) ||
        !fb_u64(&t, EC_FB_SEGMENT_SIZE, 0, &size))
      return FMT_ERR("segment %u: malformed table", i);
    uint64_t room = d->payload_end - d->segment_base;
    if (off % SEGMENT_ALIGN != 0 || off > room || size > room - off)
      return FMT_ERR("segment %u: [%llu, +%llu) outside the file or misaligned", i,
                     (unsigned long long)off, (unsigned long long)size);
    uint64_t abs = d->segment_base + off;
    if (abs < prev_end)
      return FMT_ERR("segment %u overlaps the one before it", i);
    prev_end = abs + size;
    d->segments[i].offset = abs;
    d->segments[i].size = size;
  }
  return EC_OK;
}

static ec_status read_tensors(decoder *d) {
  fb_vector v;
  if (!fb_vector_field(&d->root, EC_FB_PROGRAM_TENSORS, 4, &v) ||
      v.len > MAX_ITEMS)
    return FMT_ERR("malformed tensor list");
  d->m->n_tensors = v.len;
  d->m->tensors = calloc(v.len ? v.len : 1, sizeof *d->m->tensors);
  if (!d->m->tensors) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  for (uint32_t i = 0; i < v.len; i++) {
    fb_table t;
    if (!fb_vector_table(&v, i, &t)) return FMT_ERR("tensor %u: malformed", i);
    ec_status st = read_tensor(d, &t, i);
    if (st != EC_OK) return st;
  }
  return EC_OK;
}

static ec_status read_index_list(decoder *d, int id, const char *what,
                                 size_t *out_n, int32_t **out) {
  fb_vector v;
  if (!fb_vector_field(&d->root, id, 4, &v) || v.len > MAX_ITEMS)
    return FMT_ERR("malformed %s list", what);
  *out_n = v.len;
  *out = calloc(v.len ? v.len : 1, sizeof **out);
  if (!*out) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  for (uint32_t i = 0; i < v.len; i++) {
    int32_t idx = fb_vec_i32(&v, i);
    if (idx < 0 || (size_t)idx >= d->m->n_tensors)
      return FMT_ERR("%s %u: tensor index %d out of range", what, i, idx);
    if (d->m->tensors[idx].storage != EC_FB_STORAGEKIND_ARENA)
      return FMT_ERR("%s %u: tensor '%s' is not in the arena", what, i,
                     d->m->tensors[idx].name);
    if (id == EC_FB_PROGRAM_INPUTS && d->m->tensors[idx].dyn_slot >= 0)
      return FMT_ERR("%s %u: tensor '%s' has data-dependent dims", what, i,
                     d->m->tensors[idx].name);
    (*out)[i] = idx;
  }
  return EC_OK;
}

static ec_status read_operands(decoder *d, const fb_vector *v, const ec_node *n,
                               bool outputs, size_t *cursor, ec_block *b) {
  ec_model *m = d->m;
  for (uint32_t k = 0; k < v->len; k++) {
    int32_t idx = fb_vec_i32(v, k);
    bool absent = idx == -1 && !outputs;
    if (!absent && (idx < 0 || (size_t)idx >= m->n_tensors))
      return FMT_ERR("%sinstruction %u: %s %u is tensor %d of %zu", d->where, n->index,
                     outputs ? "output" : "input", k, idx, m->n_tensors);
    if (outputs && m->tensors[idx].storage != EC_FB_STORAGEKIND_ARENA)
      return FMT_ERR("%sinstruction %u: output %u writes constant '%s'", d->where,
                     n->index, k, m->tensors[idx].name);
    b->operands[*cursor] = idx;
    b->operand_descs[*cursor] = absent ? NULL : &m->tensors[idx];
    (*cursor)++;
  }
  return EC_OK;
}

/* The planner never lets an instruction write over what it reads (both are
 * live at that step), and kernels rely on it: they memcpy between operands
 * and read inputs after writing outputs. So an output's arena bytes may not
 * overlap any input's or another output's. */
static ec_status check_no_overlap(const ec_node *n) {
  for (int32_t o = 0; o < n->n_out; o++) {
    const ec_tensor_desc *t = n->tout[o];
    for (int32_t k = 0; k < n->n_in + o; k++) {
      bool is_input = k < n->n_in;
      const ec_tensor_desc *u = is_input ? n->tin[k] : n->tout[k - n->n_in];
      if (u == NULL || u->storage != EC_FB_STORAGEKIND_ARENA || t->size == 0 ||
          u->size == 0)
        continue;
      if (t->offset < u->offset + u->size && u->offset < t->offset + t->size)
        return FMT_ERR("instruction %u ('%s'): output %d [%llu, +%zu) overlaps %s %d "
                       "[%llu, +%zu) in the arena",
                       n->index, n->name, o, (unsigned long long)t->offset, t->size,
                       is_input ? "input" : "output", is_input ? k : k - n->n_in,
                       (unsigned long long)u->offset, u->size);
    }
  }
  return EC_OK;
}

/* The ops whose kernels handle data-dependent operands (docs/dynamic_shapes.md):
 * the producers write outputs whose shape depends on the values, the consumers
 * (RESHAPE and the _DYN kernels of TRANSPOSE, GATHER, SLICE and CAST, which are
 * apart from the static ones) read such inputs at their actual shape (and
 * propagate it). Their prepare
 * checks the operands' masks; the verifier refuses them anywhere else. */
enum { DYN_OUT = 1, DYN_IN = 2 };
static int dyn_support(uint16_t opcode) {
  switch (opcode) {
    case EC_FB_OPCODE_NON_ZERO:
    case EC_FB_OPCODE_NON_MAX_SUPPRESSION:
    case EC_FB_OPCODE_UNIQUE:
    case EC_FB_OPCODE_COMPRESS:
      return DYN_OUT;
    case EC_FB_OPCODE_RESHAPE:
    case EC_FB_OPCODE_TRANSPOSE_DYN:
    case EC_FB_OPCODE_GATHER_DYN:
    case EC_FB_OPCODE_SLICE_DYN:
    case EC_FB_OPCODE_CAST_DYN:
      return DYN_OUT | DYN_IN;
    default:
      return 0;
  }
}

/* Data-dependent operands only where the kernel handles them; records which
 * such tensors some instruction writes. */
static ec_status check_dyn_operands(decoder *d, const ec_node *n) {
  for (int32_t k = 0; k < n->n_in + n->n_out; k++) {
    bool is_in = k < n->n_in;
    const ec_tensor_desc *t = is_in ? n->tin[k] : n->tout[k - n->n_in];
    if (t == NULL || t->dyn_slot < 0) continue;
    if (!(dyn_support(n->opcode) & (is_in ? DYN_IN : DYN_OUT)))
      return FMT_ERR("%sinstruction %u ('%s'): %s %s %d, tensor '%s', has data-dependent "
                     "dims", d->where, n->index, n->name, n->op,
                     is_in ? "input" : "output", is_in ? k : k - n->n_in, t->name);
    if (!is_in) d->dyn_written[t->dyn_slot] = 1;
  }
  return EC_OK;
}

/* One instruction list (the program's, self = -1, or block self) into b. */
static ec_status read_list(decoder *d, const fb_vector *v, int32_t self, ec_block *b) {
  ec_model *m = d->m;
  if (v->len > MAX_ITEMS) return FMT_ERR("%smalformed instruction list", d->where);
  b->n_nodes = v->len;
  b->nodes = calloc(v->len ? v->len : 1, sizeof *b->nodes);
  if (!b->nodes) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");

  /* First pass: count operands so one allocation holds them all. */
  size_t total = 0;
  for (uint32_t i = 0; i < v->len; i++) {
    fb_table t;
    fb_vector ins, outs;
    if (!fb_vector_table(v, i, &t) ||
        !fb_vector_field(&t, EC_FB_INSTRUCTION_INPUTS, 4, &ins) ||
        !fb_vector_field(&t, EC_FB_INSTRUCTION_OUTPUTS, 4, &outs) ||
        ins.len > 4096 || outs.len > 4096)
      return FMT_ERR("%sinstruction %u: malformed table", d->where, i);
    total += (size_t)ins.len + outs.len;
  }
  b->operands = calloc(total ? total : 1, sizeof *b->operands);
  b->operand_descs = calloc(total ? total : 1, sizeof *b->operand_descs);
  if (!b->operands || !b->operand_descs)
    return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");

  size_t cursor = 0;
  for (uint32_t i = 0; i < v->len; i++) {
    ec_node *n = &b->nodes[i];
    fb_table t, opts;
    fb_vector ins, outs;
    bool has_opts;
    fb_vector_table(v, i, &t);
    fb_vector_field(&t, EC_FB_INSTRUCTION_INPUTS, 4, &ins);
    fb_vector_field(&t, EC_FB_INSTRUCTION_OUTPUTS, 4, &outs);
    n->index = i;
    if (!fb_u16(&t, EC_FB_INSTRUCTION_OPCODE, 0, &n->opcode) ||
        !fb_u16(&t, EC_FB_INSTRUCTION_OP_VERSION, EC_FB_INSTRUCTION_OP_VERSION_DEFAULT,
                &n->op_version) ||
        !fb_u16(&t, EC_FB_INSTRUCTION_VARIANT, 0, &n->variant) ||
        !fb_string_field(&t, EC_FB_INSTRUCTION_NAME, &n->name) ||
        !fb_u64(&t, EC_FB_INSTRUCTION_SCRATCH_SIZE, 0, &n->scratch_size))
      return FMT_ERR("%sinstruction %u: malformed table", d->where, i);
    if (!read_options(&t, &n->opt))
      return FMT_ERR("%sinstruction %u ('%s'): malformed options (union type %u)", d->where,
                     i, n->name, n->opt.type);
    n->op = ec_kernel_name(n->opcode);
    if (n->op == NULL)
      return ec_set_error(EC_ERR_UNSUPPORTED,
                          "%sinstruction %u ('%s'): opcode %u is not in this runtime",
                          d->where, i, n->name, n->opcode);
    if (n->op_version == 0)
      return FMT_ERR("%sinstruction %u ('%s'): %s op_version 0 is invalid", d->where, i,
                     n->name, n->op);
    if (n->op_version != 1)
      return ec_set_error(EC_ERR_UNSUPPORTED,
                          "%sinstruction %u ('%s'): %s op_version %u is newer than "
                          "this runtime's (1)",
                          d->where, i, n->name, n->op, n->op_version);
    if (n->scratch_size > MAX_SCRATCH)
      return FMT_ERR("%sinstruction %u ('%s'): scratch of %llu bytes is implausibly large",
                     d->where, i, n->name, (unsigned long long)n->scratch_size);
    if (n->scratch_size > m->max_scratch) m->max_scratch = n->scratch_size;
    n->n_in = (int32_t)ins.len;
    n->n_out = (int32_t)outs.len;
    n->in = b->operands + cursor;
    n->tin = b->operand_descs + cursor;
    ec_status st = read_operands(d, &ins, n, false, &cursor, b);
    if (st != EC_OK) return st;
    n->out = b->operands + cursor;
    n->tout = b->operand_descs + cursor;
    st = read_operands(d, &outs, n, true, &cursor, b);
    if (st == EC_OK) st = check_dyn_operands(d, n);
    if (st == EC_OK) st = ec_sparse_check_operands(n);
    if (st == EC_OK) st = check_no_overlap(n);
    if (st != EC_OK) return st;
    /* IF/LOOP: prepare reads this context (and replaces it with its params),
     * so a build without those kernels carries none of their verifier */
    ec_control_ctx ctl = {m, NULL, self};
    if (n->opcode == EC_FB_OPCODE_IF || n->opcode == EC_FB_OPCODE_LOOP) {
      if (fb_table_field(&t, EC_FB_INSTRUCTION_OPTIONS, &opts, &has_opts) && has_opts &&
          n->opt.type == EC_FB_OPOPTIONS_CONTROLOPTIONS)
        ctl.opts = &opts;
      n->params = &ctl;
    }
    st = ec_kernel_prepare(n);
    if (st != EC_OK) return st;
    if (b->height > EC_MAX_NESTING)
      return ec_node_error(n, EC_ERR_FORMAT, "blocks nested deeper than %d", EC_MAX_NESTING);
  }
  return EC_OK;
}

/* Program.blocks, last first: an instruction may run only blocks after its own
 * (so none contains itself), which are then already verified; then the
 * program's list, stored as blocks[n_blocks]. */
static ec_status read_instructions(decoder *d) {
  ec_model *m = d->m;
  fb_vector v, blocks;
  if (!fb_vector_field(&d->root, EC_FB_PROGRAM_INSTRUCTIONS, 4, &v) ||
      !fb_vector_field(&d->root, EC_FB_PROGRAM_BLOCKS, 4, &blocks) || blocks.len > 4096)
    return FMT_ERR("malformed instruction or block list");
  m->n_blocks = blocks.len;
  m->blocks = calloc(blocks.len + 1, sizeof *m->blocks);
  if (!m->blocks) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  ec_status st = EC_OK;
  for (uint32_t b = blocks.len; st == EC_OK && b-- > 0;) {
    fb_table t;
    fb_vector list;
    snprintf(d->where, sizeof d->where, "block %u: ", b);
    if (!fb_vector_table(&blocks, b, &t) ||
        !fb_vector_field(&t, EC_FB_BLOCK_INSTRUCTIONS, 4, &list))
      return FMT_ERR("block %u: malformed table", b);
    st = read_list(d, &list, (int32_t)b, &m->blocks[b]);
  }
  d->where[0] = '\0';
  if (st == EC_OK) st = read_list(d, &v, -1, &m->blocks[blocks.len]);
  if (st != EC_OK) return st;
  for (uint32_t b = 0; b < blocks.len; b++)
    if (!m->blocks[b].claimed) return FMT_ERR("block %u is run by no instruction", b);
  m->n_nodes = m->blocks[blocks.len].n_nodes;
  m->nodes = m->blocks[blocks.len].nodes;
  return EC_OK;
}

static ec_status check_footer(decoder *d) {
  const ec_model *m = d->m;
  if (m->file_size < 8 + FOOTER_SIZE)
    return FMT_ERR("file of %zu bytes is too small to be a .edgeb program",
                   m->file_size);
  const uint8_t *f = m->file + m->file_size - FOOTER_SIZE;
  if (ld32(f) != 0x31464345u) /* "ECF1" */
    return FMT_ERR("no .edgeb footer (truncated or not an edgec file)");
  uint64_t end = ld64(f + 8);
  if (end != m->file_size - FOOTER_SIZE)
    return FMT_ERR("footer says %llu bytes, file has %zu (truncated?)",
                   (unsigned long long)end, m->file_size - FOOTER_SIZE);
#ifndef EDGEC_FUZZING
  uint32_t crc = ec_crc32(m->file, (size_t)end);
  if (crc != ld32(f + 4))
    return ec_set_error(EC_ERR_CHECKSUM,
                        "checksum mismatch: the file was corrupted");
#else /* fuzz builds skip only the CRC equality: mutations would never pass it */
  (void)ld32;
#endif
  d->payload_end = end;
  return EC_OK;
}

static ec_status read_program(decoder *d) {
  ec_model *m = d->m;
  fb_span whole = {m->file, (size_t)d->payload_end};
  uint32_t version;
  if (!fb_root(whole, EC_FB_FILE_IDENTIFIER, &d->root))
    return FMT_ERR("not an edgec program (identifier or root table invalid)");
  if (!fb_u32(&d->root, EC_FB_PROGRAM_FORMAT_VERSION, 0, &version) ||
      !fb_u64(&d->root, EC_FB_PROGRAM_SEGMENT_BASE, 0, &d->segment_base))
    return FMT_ERR("malformed program table");
  if (version == 0) return FMT_ERR("program has no format version");
  if (version > EC_FORMAT_VERSION)
    return ec_set_error(EC_ERR_VERSION,
                        "file format version %u is newer than this runtime's (%u); "
                        "update the runtime",
                        version, EC_FORMAT_VERSION);
  if (d->segment_base % SEGMENT_ALIGN != 0 || d->segment_base < 8 ||
      d->segment_base > d->payload_end)
    return FMT_ERR("segment base %llu is misaligned or outside the file",
                   (unsigned long long)d->segment_base);
  /* From here on the FlatBuffer may only reference its own bytes. */
  fb_span table_bytes = {m->file, (size_t)d->segment_base};
  if (!fb_root(table_bytes, EC_FB_FILE_IDENTIFIER, &d->root))
    return FMT_ERR("program table overlaps the constant segments");
  if (!fb_u64(&d->root, EC_FB_PROGRAM_ARENA_SIZE, 0, &m->arena_size) ||
      !fb_u64(&d->root, EC_FB_PROGRAM_REQUIREMENTS, 0, &m->requirements))
    return FMT_ERR("malformed program table");
  if (m->arena_size > ((uint64_t)1 << 44))
    return FMT_ERR("arena of %llu bytes is implausibly large",
                   (unsigned long long)m->arena_size);
  ec_status st = read_segments(d);
  if (st == EC_OK) st = read_tensors(d);
  if (st == EC_OK)
    st = read_index_list(d, EC_FB_PROGRAM_INPUTS, "input", &m->n_inputs, &m->inputs);
  if (st == EC_OK)
    st = read_index_list(d, EC_FB_PROGRAM_OUTPUTS, "output", &m->n_outputs,
                         &m->outputs);
  if (st == EC_OK) {
    d->dyn_written = calloc(m->n_dyn ? m->n_dyn : 1, 1);
    if (!d->dyn_written) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
    st = read_instructions(d);
  }
  for (size_t i = 0; st == EC_OK && i < m->n_tensors; i++) {
    const ec_tensor_desc *t = &m->tensors[i];
    if (t->dyn_slot >= 0 && !d->dyn_written[t->dyn_slot])
      st = T_ERR(i, t->name, "data-dependent but written by no instruction");
  }
  return st;
}

ec_status ec_model_decode(ec_model *m) {
  decoder d;
  memset(&d, 0, sizeof d);
  d.m = m;
  ec_status st = check_footer(&d);
  if (st == EC_OK) st = read_program(&d);
  free(d.segments);
  free(d.dyn_written);
  return st;
}

void ec_model_release(ec_model *m) {
  for (size_t b = 0; m->blocks && b <= m->n_blocks; b++) {
    ec_block *k = &m->blocks[b];
    for (size_t i = 0; k->nodes && i < k->n_nodes; i++) free(k->nodes[i].params);
    free(k->nodes);
    free(k->operands);
    free(k->operand_descs);
  }
  free(m->blocks);
  free(m->tensors);
  free(m->inputs);
  free(m->outputs);
}
