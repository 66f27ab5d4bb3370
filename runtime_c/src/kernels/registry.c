#include <string.h>

#include "kernel.h"

/* The kernel list: every kernel (kernels/ops_all.def), or, in a selective
 * build, the file CMake's EDGEC_OPS_DEF names (EC_OP lines, possibly none). */
#ifdef EDGEC_OPS_DEF
#define EC_OPS_DEF_FILE EDGEC_OPS_DEF
#else
#define EC_OPS_DEF_FILE "kernels/ops_all.def"
#endif

/* Hidden (EC_INTERNAL): the kernels live in this library, so their addresses
 * are PC-relative (no GOT entry, no dynamic relocation each). */
#define EC_OP(code, sym) EC_INTERNAL ec_status sym##_prepare(ec_node *node);
#include EC_OPS_DEF_FILE
#undef EC_OP

/* The kernels of the list by position. */
enum {
#define EC_OP(code, sym) KERNEL_##code,
#include EC_OPS_DEF_FILE
#undef EC_OP
  N_KERNELS
};

/* Their opcodes and names (the opcode in lower case), in the same order: data
 * without pointers (a pointer in a shared library costs a dynamic relocation
 * of 24 bytes on top of its own 8), searched once per instruction at load. */
static const uint16_t codes[N_KERNELS + 1] = { /* + 1: the list may be empty */
#define EC_OP(code, sym) EC_FB_OPCODE_##code,
#include EC_OPS_DEF_FILE
#undef EC_OP
};
static const char names[] =
#define EC_OP(code, sym) EC_FB_OPNAME_##code "\0"
#include EC_OPS_DEF_FILE
#undef EC_OP
    "";

/* The position of opcode's kernel, N_KERNELS if none. */
static int find(uint16_t opcode) {
  int i = 0;
  while (i < N_KERNELS && codes[i] != opcode) i++;
  return i;
}

const char *ec_kernel_name(uint16_t opcode) {
  const char *name = names;
  const int k = find(opcode);
  if (k == N_KERNELS) return NULL;
  for (int i = 0; i < k; i++) name += strlen(name) + 1;
  return name;
}

/* A switch over the position (dense: a table of byte offsets and a branch
 * per case) rather than a table of prepare functions, whose every pointer
 * would also be a dynamic relocation. */
ec_status ec_kernel_prepare(ec_node *node) {
  switch (find(node->opcode)) {
#define EC_OP(code, sym) \
  case KERNEL_##code: return sym##_prepare(node);
#include EC_OPS_DEF_FILE
#undef EC_OP
    default: return EC_ERR_UNSUPPORTED; /* ec_kernel_name said so first */
  }
}
