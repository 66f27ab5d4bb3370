/* A QEMU TCG plugin that counts the guest instructions a program executes
 * (built for the host by bench/qemu_insn_count.py; loaded with
 * `qemu-aarch64 -plugin ./libinsncount.so ...`; prints "insns: N" at exit).
 *
 * Debian ships qemu-user with plugin support (the binary exports the
 * qemu_plugin_* API) but neither the plugin header nor the contrib plugins,
 * so the few declarations used are written out here. They are unchanged from
 * plugin API version 1 (QEMU 4.2 - 8.x) to version 4 (QEMU 9.x - 10.x); the
 * version this file claims is EC_QEMU_PLUGIN_API (default 1), which QEMU
 * checks against its own [min, cur] range at load. Counting: a callback per
 * executed translation block adds its instruction count (blocks are only
 * left early on an exception, which a GEMM does not raise). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef EC_QEMU_PLUGIN_API
#define EC_QEMU_PLUGIN_API 1
#endif

#define PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* opaque here */
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void *userdata);
void qemu_plugin_outs(const char *string);

PLUGIN_EXPORT int qemu_plugin_version = EC_QEMU_PLUGIN_API;

/* One guest thread (the harness is single-threaded), so a plain counter. */
static uint64_t g_insns;

static void on_exec(unsigned int vcpu_index, void *userdata) {
  (void)vcpu_index;
  g_insns += (uint64_t)(uintptr_t)userdata;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  char line[64];
  snprintf(line, sizeof line, "insns: %llu\n", (unsigned long long)g_insns);
  qemu_plugin_outs(line);
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                      char **argv) {
  (void)info;
  (void)argc;
  (void)argv;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit, NULL);
  return 0;
}
