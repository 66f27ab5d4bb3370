#include "kernel.h"

/* The kernel list: every kernel (kernels/ops_all.def), or, in a selective
 * build, the file CMake's EDGEC_OPS_DEF names (EC_OP lines, possibly none). */
#ifdef EDGEC_OPS_DEF
#define EC_OPS_DEF_FILE EDGEC_OPS_DEF
#else
#define EC_OPS_DEF_FILE "kernels/ops_all.def"
#endif

/* Hidden: the kernels live in this library, so their addresses are
 * PC-relative (no GOT entry, no dynamic relocation each). */
#if defined(__GNUC__) && !defined(_WIN32)
#define EC_INTERNAL __attribute__((visibility("hidden")))
#else
#define EC_INTERNAL
#endif

#define EC_OP(code, sym) extern EC_INTERNAL const ec_kernel sym;
#include EC_OPS_DEF_FILE
#undef EC_OP

/* A switch rather than a table of {opcode, &kernel}: in a shared library
 * every pointer in a table costs a dynamic relocation (24 bytes on 64-bit
 * targets) on top of its own 8, while a case is a few instructions. */
const ec_kernel *ec_kernel_lookup(uint16_t opcode) {
  switch (opcode) {
#define EC_OP(code, sym) \
  case EC_FB_OPCODE_##code: return &sym;
#include EC_OPS_DEF_FILE
#undef EC_OP
    default: return NULL;
  }
}
