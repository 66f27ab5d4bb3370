/* The public API: models, sessions, inputs and outputs. */
#define _DEFAULT_SOURCE /* madvise */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "pool.h"

#define ARENA_ALIGN 64
#define HUGE_PAGE ((size_t)2 << 20)

/* Buffers of a 2 MB page or more (a model's weights, the arena) on
 * transparent huge pages where Linux offers them (madvise mode): with 4 KB
 * pages MobileNetV2's 14 MB of weights overflow Zen 4's L2 TLB (3,072
 * entries; its classifier Gemm 0.19 -> 0.12 ms, ResNet-18 -9%). x86-64 only:
 * the AArch64 build has no room under its size gate (ci/size_gate.sh), and
 * this was measured on x86 alone. */
static void *big_alloc(size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && defined(__x86_64__)
  if (size >= HUGE_PAGE) {
    const size_t rounded = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
    if (p) (void)madvise(p, rounded, MADV_HUGEPAGE);
    return p;
  }
#endif
  return aligned_alloc(ARENA_ALIGN, size);
}

struct ec_session {
  const ec_model *model;
  uint8_t *arena;
  void **data; /* per tensor */
  int32_t threads;
  uint8_t **workspace; /* per thread */
  ec_exec exec;
  ec_pool *pool;
  uint64_t *profile_ns; /* per instruction, NULL unless profiling */
  int64_t (*dims)[EC_MAX_RANK]; /* actual shapes of the data-dependent tensors */
};

/* "FUNCTION: WHAT", EC_ERR_INVALID_ARGUMENT; one call per check (out of line:
 * a few instructions less at each of them). */
static ec_status arg_error(const char *func, const char *what) {
  return ec_set_error(EC_ERR_INVALID_ARGUMENT, "%s: %s", func, what);
}
#define CHECK_ARG(cond, what)                      \
  do {                                             \
    if (!(cond)) return arg_error(__func__, what); \
  } while (0)

/* The output at index, after checking the index. */
static ec_status output_desc(const ec_session *s, size_t index, const ec_tensor_desc **t) {
  const ec_model *m = s->model;
  if (index >= m->n_outputs)
    return ec_set_error(EC_ERR_INVALID_ARGUMENT, "output index %zu out of range (model has %zu)",
                        index, m->n_outputs);
  *t = &m->tensors[m->outputs[index]];
  return EC_OK;
}

EC_API ec_status ec_runtime_version(const char **out_version) {
  CHECK_ARG(out_version, "out_version is NULL");
  *out_version = EDGEC_VERSION;
  return EC_OK;
}

/* The library's own calls of ec_model_free and ec_session_free go to these:
 * a call of an exported function goes through the PLT (an import of the
 * library's own symbol: a PLT entry, a GOT slot and a relocation each). */
static ec_status model_free(ec_model *m) {
  if (!m) return EC_OK;
  ec_model_release(m);
  if (m->mapping) munmap(m->mapping, m->file_size);
  free(m->owned);
  free(m);
  return EC_OK;
}

static ec_status session_free(ec_session *s) {
  if (!s) return EC_OK;
  ec_pool_free(s->pool);
  for (int32_t t = 0; s->workspace && t < s->threads; t++) free(s->workspace[t]);
  free(s->workspace);
  free(s->arena);
  free(s->data);
  free(s->profile_ns);
  free(s->dims);
  free(s);
  return EC_OK;
}

static ec_status finish_open(ec_model *m, ec_model **out_model) {
  ec_status st = ec_model_decode(m);
  if (st != EC_OK) {
    model_free(m);
    return st;
  }
  *out_model = m;
  return EC_OK;
}

EC_API ec_status ec_model_open_bytes(const void *data, size_t size,
                                     ec_model **out_model) {
  CHECK_ARG(out_model, "out_model is NULL");
  *out_model = NULL;
  CHECK_ARG(data || size == 0, "data is NULL");
  ec_model *m = calloc(1, sizeof *m);
  if (!m) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  /* A 64-byte aligned copy keeps constant segments aligned in memory. */
  size_t rounded = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  m->owned = big_alloc(rounded ? rounded : ARENA_ALIGN);
  if (!m->owned) {
    free(m);
    return ec_set_error(EC_ERR_NO_MEMORY, "cannot copy a %zu-byte model", size);
  }
  if (size) memcpy(m->owned, data, size);
  m->file = m->owned;
  m->file_size = size;
  return finish_open(m, out_model);
}

EC_API ec_status ec_model_open_file(const char *path, ec_model **out_model) {
  CHECK_ARG(out_model, "out_model is NULL");
  *out_model = NULL;
  CHECK_ARG(path, "path is NULL");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return ec_set_error(EC_ERR_IO, "%s: cannot open", path);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ec_set_error(EC_ERR_IO, "%s: not a regular file", path);
  }
  size_t size = (size_t)st.st_size;
  void *map = NULL;
  if (size > 0) {
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      close(fd);
      return ec_set_error(EC_ERR_IO, "%s: cannot map the file", path);
    }
  }
  close(fd);
  ec_model *m = calloc(1, sizeof *m);
  if (!m) {
    if (map) munmap(map, size);
    return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  }
  m->mapping = map;
  m->file = map;
  m->file_size = size;
  return finish_open(m, out_model);
}

EC_API ec_status ec_model_free(ec_model *m) { return model_free(m); }

EC_API ec_status ec_model_num_inputs(const ec_model *m, size_t *out_n) {
  CHECK_ARG(m && out_n, "NULL argument");
  *out_n = m->n_inputs;
  return EC_OK;
}

EC_API ec_status ec_model_num_outputs(const ec_model *m, size_t *out_n) {
  CHECK_ARG(m && out_n, "NULL argument");
  *out_n = m->n_outputs;
  return EC_OK;
}

EC_API ec_status ec_model_num_instructions(const ec_model *m, size_t *out_n) {
  CHECK_ARG(m && out_n, "NULL argument");
  *out_n = m->n_nodes;
  return EC_OK;
}

EC_API ec_status ec_model_arena_size(const ec_model *m, size_t *out_bytes) {
  CHECK_ARG(m && out_bytes, "NULL argument");
  *out_bytes = (size_t)m->arena_size;
  return EC_OK;
}

static void fill_info(const ec_tensor_desc *t, ec_tensor_info *info) {
  memset(info, 0, sizeof *info);
  info->name = t->name;
  info->dtype = t->dtype;
  info->rank = t->rank;
  memcpy(info->shape, t->shape, sizeof(int64_t) * (size_t)t->rank);
  info->size_bytes = t->size;
}

EC_API ec_status ec_model_input_info(const ec_model *m, size_t index,
                                     ec_tensor_info *out_info) {
  CHECK_ARG(m && out_info, "NULL argument");
  CHECK_ARG(index < m->n_inputs, "input index out of range");
  fill_info(&m->tensors[m->inputs[index]], out_info);
  return EC_OK;
}

EC_API ec_status ec_model_output_info(const ec_model *m, size_t index,
                                      ec_tensor_info *out_info) {
  CHECK_ARG(m && out_info, "NULL argument");
  CHECK_ARG(index < m->n_outputs, "output index out of range");
  fill_info(&m->tensors[m->outputs[index]], out_info);
  return EC_OK;
}

EC_API ec_status ec_session_create(const ec_model *m,
                                   const ec_session_options *options,
                                   ec_session **out_session) {
  CHECK_ARG(out_session, "out_session is NULL");
  *out_session = NULL;
  CHECK_ARG(m, "model is NULL");
  int32_t threads = options ? options->threads : 1;
  CHECK_ARG(threads >= 0 && threads <= 256, "threads must be in 0..256");
  ec_session *s = calloc(1, sizeof *s);
  if (!s) return ec_set_error(EC_ERR_NO_MEMORY, "out of memory");
  s->model = m;
  size_t arena = (size_t)(m->arena_size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  s->arena = big_alloc(arena ? arena : ARENA_ALIGN);
  s->data = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *s->data);
  s->threads = threads > 1 ? threads : 1;
  s->workspace = calloc((size_t)s->threads, sizeof *s->workspace);
  size_t ws = (size_t)(m->max_scratch + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  bool ws_ok = s->workspace != NULL;
  for (int32_t t = 0; ws_ok && t < s->threads; t++) {
    s->workspace[t] = big_alloc(ws ? ws : ARENA_ALIGN);
    ws_ok = s->workspace[t] != NULL;
  }
  if (options && options->profile)
    s->profile_ns = calloc(m->n_nodes ? m->n_nodes : 1, sizeof *s->profile_ns);
  s->dims = calloc(m->n_dyn ? m->n_dyn : 1, sizeof *s->dims);
  if (!s->arena || !s->data || !ws_ok || !s->dims ||
      (options && options->profile && !s->profile_ns)) {
    session_free(s);
    return ec_set_error(EC_ERR_NO_MEMORY, "cannot allocate a %zu-byte arena",
                        arena);
  }
  /* Zeroed so that no run can ever observe stale bytes of another model. */
  memset(s->arena, 0, arena);
  for (size_t i = 0; i < m->n_tensors; i++) {
    const ec_tensor_desc *t = &m->tensors[i];
    s->data[i] = t->storage == EC_FB_STORAGEKIND_ARENA
                     ? (void *)(s->arena + t->offset)
                     : (void *)t->const_data;
    /* a data-dependent shape starts at its upper bound: never beyond the storage */
    if (t->dyn_slot >= 0)
      memcpy(s->dims[t->dyn_slot], t->shape, sizeof(int64_t) * (size_t)t->rank);
  }
  if (threads > 1) {
    ec_status st = ec_pool_create(threads, &s->pool);
    if (st != EC_OK) {
      session_free(s);
      return st;
    }
  }
  s->exec.data = s->data;
  s->exec.dims = s->dims;
  s->exec.workspace = s->workspace;
  s->exec.pool = s->pool;
  *out_session = s;
  return EC_OK;
}

EC_API ec_status ec_session_free(ec_session *s) { return session_free(s); }

/* Whether input tensor t may be read from the caller's memory: no other
 * tensor (a view) reads its arena bytes before an instruction writes over
 * them, and nothing reads t after such a write (it would see the caller's
 * unchanged bytes); the program's outputs are read last. Programs with blocks
 * are not walked: none. */
static bool bindable(const ec_model *m, const ec_tensor_desc *t) {
  bool clobbered = false, ok = !m->n_blocks;
  for (size_t i = 0; i <= m->n_nodes; i++) {
    bool last = i == m->n_nodes;
    const ec_node *n = &m->nodes[last ? 0 : i];
    int32_t reads = last ? (int32_t)m->n_outputs : n->n_in;
    for (int32_t j = 0; j < reads + (last ? 0 : n->n_out); j++) {
      /* an instruction's tout follows its tin */
      const ec_tensor_desc *u = last ? &m->tensors[m->outputs[j]] : n->tin[j];
      if (u && u->storage == EC_FB_STORAGEKIND_ARENA && u->size &&
          u->offset < t->offset + t->size && t->offset < u->offset + u->size) {
        if (j >= reads) clobbered = true;
        else ok &= (u == t) != clobbered;
      }
    }
  }
  return ok;
}

/* Copies the input into the arena (bind: false), or makes the runs read it
 * where it is (bind: true), where bindable() says so and data is 16-byte
 * aligned as the arena is (a refused bind leaves the input as it was). */
static ec_status put_input(ec_session *s, size_t index, const void *data,
                           size_t size_bytes, bool bind) {
  CHECK_ARG(s && (data || size_bytes == 0), "NULL argument");
  const ec_model *m = s->model;
  if (index >= m->n_inputs)
    return ec_set_error(EC_ERR_INVALID_ARGUMENT,
                        "input index %zu out of range (model has %zu)", index,
                        m->n_inputs);
  const ec_tensor_desc *t = &m->tensors[m->inputs[index]];
  if (size_bytes != t->size)
    return ec_set_error(EC_ERR_SHAPE,
                        "input '%s': got %zu bytes, expected %zu (%s, %lld elements)",
                        t->name, size_bytes, t->size, ec_dtype_name(t->dtype),
                        (long long)t->numel);
  void **slot = &s->data[m->inputs[index]];
  if (!bind) {
    *slot = s->arena + t->offset;
    if (size_bytes) memcpy(*slot, data, size_bytes);
    return EC_OK;
  }
  if (((uintptr_t)data & 15) || !bindable(m, t))
    return ec_set_error(EC_ERR_UNSUPPORTED,
                        "input '%s' cannot be bound", t->name);
  *slot = (void *)(uintptr_t)data;
  return EC_OK;
}

EC_API ec_status ec_session_set_input(ec_session *s, size_t index,
                                      const void *data, size_t size_bytes) {
  return put_input(s, index, data, size_bytes, false);
}

EC_API ec_status ec_session_bind_input(ec_session *s, size_t index,
                                       const void *data, size_t size_bytes) {
  return put_input(s, index, data, size_bytes, true);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

EC_API ec_status ec_session_run(ec_session *s) {
  CHECK_ARG(s, "session is NULL");
  const ec_model *m = s->model;
  for (size_t i = 0; i < m->n_nodes; i++) {
    const ec_node *n = &m->nodes[i];
    if (s->profile_ns) {
      uint64_t t0 = now_ns();
      n->eval(n, &s->exec);
      s->profile_ns[i] = now_ns() - t0;
    } else {
      n->eval(n, &s->exec);
    }
  }
  return EC_OK;
}

EC_API ec_status ec_session_get_output(const ec_session *s, size_t index,
                                       const void **out_data,
                                       size_t *out_size_bytes) {
  CHECK_ARG(s && out_data && out_size_bytes, "NULL argument");
  const ec_tensor_desc *t = NULL;
  ec_status st = output_desc(s, index, &t);
  if (st != EC_OK) return st;
  *out_data = s->data[t - s->model->tensors];
  *out_size_bytes = t->size;
  if (t->dyn_slot >= 0) { /* the actual shape's bytes: a prefix of the planned ones */
    size_t numel = 1;
    for (int32_t k = 0; k < t->rank; k++) numel *= (size_t)s->dims[t->dyn_slot][k];
    *out_size_bytes = numel * ec_dtype_size(t->dtype);
  }
  return EC_OK;
}

EC_API ec_status ec_session_output_shape(const ec_session *s, size_t index,
                                         int64_t *out_shape, int32_t *out_rank) {
  CHECK_ARG(s && out_shape && out_rank, "NULL argument");
  const ec_tensor_desc *t = NULL;
  ec_status st = output_desc(s, index, &t);
  if (st != EC_OK) return st;
  const int64_t *dims = t->dyn_slot >= 0 ? s->dims[t->dyn_slot] : t->shape;
  memset(out_shape, 0, sizeof(int64_t) * EC_MAX_RANK);
  memcpy(out_shape, dims, sizeof(int64_t) * (size_t)t->rank);
  *out_rank = t->rank;
  return EC_OK;
}

EC_API ec_status ec_model_output_dynamic_dims(const ec_model *m, size_t index,
                                              uint32_t *out_mask) {
  CHECK_ARG(m && out_mask, "NULL argument");
  CHECK_ARG(index < m->n_outputs, "output index out of range");
  *out_mask = m->tensors[m->outputs[index]].dyn_mask;
  return EC_OK;
}

EC_API ec_status ec_session_profile(const ec_session *s, size_t instruction,
                                    uint64_t *out_ns, const char **out_op_name) {
  CHECK_ARG(s && out_ns && out_op_name, "NULL argument");
  CHECK_ARG(s->profile_ns, "session was created without profiling");
  CHECK_ARG(instruction < s->model->n_nodes, "instruction index out of range");
  *out_ns = s->profile_ns[instruction];
  *out_op_name = s->model->nodes[instruction].op;
  return EC_OK;
}
