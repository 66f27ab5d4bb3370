/* The decoded, verified program. Built once by ec_model_open_*; read-only
 * afterwards, so any number of sessions may share it. */
#ifndef EDGEC_MODEL_H_
#define EDGEC_MODEL_H_

#include "kernel.h"

/* Nested programs may be at most this deep (the interpreter recurses once per
 * level: IF/LOOP in src/kernels/control.c). */
#define EC_MAX_NESTING 8

/* An instruction list: the program's, or one of Program.blocks (run by the
 * one IF/LOOP instruction that names it). */
typedef struct ec_block {
  size_t n_nodes;
  ec_node *nodes;
  int32_t *operands; /* storage behind every node's in/out */
  const ec_tensor_desc **operand_descs;
  int32_t height;    /* levels of blocks below this one (0: runs none) */
  bool claimed;      /* some instruction runs it */
} ec_block;

struct ec_model {
  uint8_t *owned;   /* bytes copied by ec_model_open_bytes, or NULL */
  void *mapping;    /* mmap of ec_model_open_file, or NULL */
  size_t file_size;
  const uint8_t *file;

  size_t n_tensors;
  ec_tensor_desc *tensors;
  size_t n_nodes; /* the program's instruction list (= blocks[n_blocks]) */
  ec_node *nodes;
  size_t n_blocks; /* Program.blocks; blocks[n_blocks] is the program's own list */
  ec_block *blocks;
  size_t n_inputs, n_outputs;
  int32_t *inputs, *outputs;
  uint64_t arena_size;
  uint64_t max_scratch; /* largest per-thread workspace any node needs */
  uint64_t requirements;
  size_t n_dyn; /* tensors with data-dependent dims (ec_tensor_desc.dyn_slot) */
};

/* What the IF/LOOP kernels' prepare (src/kernels/control.c) finds in
 * node->params at load, and replaces with their own: it checks the
 * instruction's ControlOptions (opts; NULL when absent) against the model's
 * blocks and tensors, claims its blocks and raises the height of the block
 * holding it (self; -1: the program). */
struct fb_table;
typedef struct ec_control_ctx {
  struct ec_model *m;
  const struct fb_table *opts;
  int32_t self;
} ec_control_ctx;

/* Decodes and verifies file[0, size) into model (whose file fields are set). */
ec_status ec_model_decode(struct ec_model *model);
void ec_model_release(struct ec_model *model);

#endif /* EDGEC_MODEL_H_ */
