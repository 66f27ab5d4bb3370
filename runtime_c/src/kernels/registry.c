#include "kernel.h"

/* The kernel list: every kernel (kernels/ops_all.def), or, in a selective
 * build, the file CMake's EDGEC_OPS_DEF names (EC_OP lines, possibly none). */
#ifdef EDGEC_OPS_DEF
#define EC_OPS_DEF_FILE EDGEC_OPS_DEF
#else
#define EC_OPS_DEF_FILE "kernels/ops_all.def"
#endif

#define EC_OP(code, sym) extern const ec_kernel sym;
#include EC_OPS_DEF_FILE
#undef EC_OP

typedef struct entry {
  uint16_t opcode;
  const ec_kernel *kernel;
} entry;

static const entry table[] = {
#define EC_OP(code, sym) {EC_FB_OPCODE_##code, &sym},
#include EC_OPS_DEF_FILE
#undef EC_OP
    {EC_FB_OPCODE_INVALID, NULL}, /* end; keeps the table valid C when the list is empty */
};

const ec_kernel *ec_kernel_lookup(uint16_t opcode) {
  for (size_t i = 0; table[i].kernel != NULL; i++)
    if (table[i].opcode == opcode) return table[i].kernel;
  return NULL;
}
