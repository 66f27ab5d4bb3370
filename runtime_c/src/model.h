/* The decoded, verified program. Built once by ec_model_open_*; read-only
 * afterwards, so any number of sessions may share it. */
#ifndef EDGEC_MODEL_H_
#define EDGEC_MODEL_H_

#include "kernel.h"

struct ec_model {
  uint8_t *owned;   /* bytes copied by ec_model_open_bytes, or NULL */
  void *mapping;    /* mmap of ec_model_open_file, or NULL */
  size_t file_size;
  const uint8_t *file;

  size_t n_tensors;
  ec_tensor_desc *tensors;
  size_t n_nodes;
  ec_node *nodes;
  int32_t *operands; /* storage behind every node's in/out */
  const ec_tensor_desc **operand_descs;
  size_t n_inputs, n_outputs;
  int32_t *inputs, *outputs;
  uint64_t arena_size;
  uint64_t max_scratch; /* largest per-thread workspace any node needs */
  uint64_t requirements;
};

/* Decodes and verifies file[0, size) into model (whose file fields are set). */
ec_status ec_model_decode(struct ec_model *model);
void ec_model_release(struct ec_model *model);

#endif /* EDGEC_MODEL_H_ */
