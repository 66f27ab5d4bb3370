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
#define EC_OP(code, sym)                         \
  extern EC_INTERNAL const char sym##_name[];   \
  EC_INTERNAL ec_status sym##_prepare(ec_node *node);
#include EC_OPS_DEF_FILE
#undef EC_OP

/* Switches rather than a table of {opcode, name, prepare, eval}: in a shared
 * library every pointer in a table costs a dynamic relocation (24 bytes on
 * 64-bit targets) on top of its own 8, while a case is a few instructions. */
const char *ec_kernel_name(uint16_t opcode) {
  switch (opcode) {
#define EC_OP(code, sym) \
  case EC_FB_OPCODE_##code: return sym##_name;
#include EC_OPS_DEF_FILE
#undef EC_OP
    default: return NULL;
  }
}

ec_status ec_kernel_prepare(ec_node *node) {
  switch (node->opcode) {
#define EC_OP(code, sym) \
  case EC_FB_OPCODE_##code: return sym##_prepare(node);
#include EC_OPS_DEF_FILE
#undef EC_OP
    default: return EC_ERR_UNSUPPORTED; /* ec_kernel_name said so first */
  }
}
