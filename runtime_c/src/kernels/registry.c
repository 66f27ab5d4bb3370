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

/* The opcodes of the list and their names (the opcode in lower case), in the
 * same order: data without pointers (a pointer in a shared library costs a
 * dynamic relocation of 24 bytes on top of its own 8), searched once per
 * instruction at load. The last code ends the list (which may be empty). */
static const uint16_t codes[] = {
#define EC_OP(code, sym) EC_FB_OPCODE_##code,
#include EC_OPS_DEF_FILE
#undef EC_OP
    0};
static const char names[] =
#define EC_OP(code, sym) EC_FB_OPNAME_##code "\0"
#include EC_OPS_DEF_FILE
#undef EC_OP
    "";

const char *ec_kernel_name(uint16_t opcode) {
  const char *name = names;
  for (size_t i = 0; i + 1 < sizeof codes / sizeof *codes; i++, name += strlen(name) + 1)
    if (codes[i] == opcode) return name;
  return NULL;
}

/* A switch rather than a table of prepare functions: a case is a few
 * instructions, a pointer in a table also a dynamic relocation. */
ec_status ec_kernel_prepare(ec_node *node) {
  switch (node->opcode) {
#define EC_OP(code, sym) \
  case EC_FB_OPCODE_##code: return sym##_prepare(node);
#include EC_OPS_DEF_FILE
#undef EC_OP
    default: return EC_ERR_UNSUPPORTED; /* ec_kernel_name said so first */
  }
}
