#include "kernel.h"

#define EC_OP(code, sym) extern const ec_kernel sym;
#include "kernels/ops_all.def"
#undef EC_OP

typedef struct entry {
  uint16_t opcode;
  const ec_kernel *kernel;
} entry;

static const entry table[] = {
#define EC_OP(code, sym) {EC_FB_OPCODE_##code, &sym},
#include "kernels/ops_all.def"
#undef EC_OP
};

const ec_kernel *ec_kernel_lookup(uint16_t opcode) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (table[i].opcode == opcode) return table[i].kernel;
  return NULL;
}
