/* edgec runtime: load a compiled .edgeb program and run it.
 *
 * Every function returns an ec_status. On failure, ec_last_error() gives a
 * one-line message for the calling thread. Nothing allocates inside
 * ec_session_run. A model may be shared by many sessions; a session is
 * used by one thread at a time.
 */
#ifndef EDGEC_EDGEC_H_
#define EDGEC_EDGEC_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EC_API __declspec(dllexport)
#else
#define EC_API __attribute__((visibility("default")))
#endif

/* Highest .edgeb format version this runtime reads. */
#define EC_FORMAT_VERSION 1u
#define EC_MAX_RANK 8

typedef enum ec_status {
  EC_OK = 0,
  EC_ERR_INVALID_ARGUMENT = 1, /* a caller passed a bad value */
  EC_ERR_IO = 2,               /* file could not be opened or mapped */
  EC_ERR_FORMAT = 3,           /* the file is malformed */
  EC_ERR_VERSION = 4,          /* the file is newer than this runtime */
  EC_ERR_CHECKSUM = 5,         /* the file's bytes were changed */
  EC_ERR_UNSUPPORTED = 6,      /* op, dtype or feature this build lacks */
  EC_ERR_NO_MEMORY = 7,
  EC_ERR_SHAPE = 8,            /* shapes inconsistent with an op */
  EC_ERR_DTYPE = 9,            /* dtypes inconsistent with an op */
  EC_ERR_BACKEND = 10,         /* a GPU backend is unavailable */
  EC_ERR_INTERNAL = 11,
} ec_status;

typedef enum ec_dtype {
  EC_FLOAT32 = 0,
  EC_FLOAT16 = 1,
  EC_INT8 = 2,
  EC_UINT8 = 3,
  EC_INT32 = 4,
  EC_INT64 = 5,
  EC_BOOL = 6,
  EC_FLOAT64 = 7,
  EC_INT16 = 8,
  EC_UINT16 = 9,
  EC_UINT32 = 10,
  EC_UINT64 = 11,
  EC_BFLOAT16 = 12, /* the upper 16 bits of a float32 */
} ec_dtype;

typedef struct ec_model ec_model;
typedef struct ec_session ec_session;

typedef struct ec_tensor_info {
  const char *name; /* owned by the model */
  ec_dtype dtype;
  int32_t rank;
  int64_t shape[EC_MAX_RANK];
  size_t size_bytes;
} ec_tensor_info;

typedef struct ec_session_options {
  int32_t threads; /* 0 or 1: run on the calling thread */
  int32_t profile; /* non-zero: time every instruction */
} ec_session_options;

/* Thread-local message of the last failed call on this thread. */
EC_API ec_status ec_last_error(const char **out_message);
EC_API const char *ec_status_name(ec_status status);
EC_API ec_status ec_runtime_version(const char **out_version);

/* Copies the bytes; the caller may free them afterwards. */
EC_API ec_status ec_model_open_bytes(const void *data, size_t size,
                                     ec_model **out_model);
/* Maps the file read-only; constants are used in place (zero copy). */
EC_API ec_status ec_model_open_file(const char *path, ec_model **out_model);
EC_API ec_status ec_model_free(ec_model *model);

EC_API ec_status ec_model_num_inputs(const ec_model *model, size_t *out_n);
EC_API ec_status ec_model_num_outputs(const ec_model *model, size_t *out_n);
EC_API ec_status ec_model_input_info(const ec_model *model, size_t index,
                                     ec_tensor_info *out_info);
EC_API ec_status ec_model_output_info(const ec_model *model, size_t index,
                                      ec_tensor_info *out_info);
EC_API ec_status ec_model_arena_size(const ec_model *model, size_t *out_bytes);

EC_API ec_status ec_session_create(const ec_model *model,
                                   const ec_session_options *options,
                                   ec_session **out_session);
EC_API ec_status ec_session_free(ec_session *session);
/* Copies size_bytes (must equal the input's size) into the session. */
EC_API ec_status ec_session_set_input(ec_session *session, size_t index,
                                      const void *data, size_t size_bytes);
/* Zero-copy input: the following runs read the input from data itself, which
 * must stay valid and unchanged until the last of them; the session never
 * writes to it. Lasts until the input is bound again or ec_session_set_input
 * copies it. size_bytes must equal the input's size (EC_ERR_SHAPE).
 * EC_ERR_UNSUPPORTED, the input left as it was, where data is not 16-byte
 * aligned or the program reads the input's arena bytes otherwise than as that
 * input (through a view of it, after an instruction wrote over them, as an
 * output aliasing it; programs with IF/LOOP blocks): use ec_session_set_input
 * there. Checked on each call (a walk over the program's operands). */
EC_API ec_status ec_session_bind_input(ec_session *session, size_t index,
                                       const void *data, size_t size_bytes);
EC_API ec_status ec_session_run(ec_session *session);
/* Points into the session's memory; valid until the next run or free.
 * out_size_bytes is the size of the output's actual shape (below). */
EC_API ec_status ec_session_get_output(const ec_session *session, size_t index,
                                       const void **out_data,
                                       size_t *out_size_bytes);
/* The actual shape of an output after the last run: out_shape has room for
 * EC_MAX_RANK dims (those past *out_rank are set to 0). An output whose shape
 * depends on the input values (NonZero, NonMaxSuppression, Unique, Compress and
 * what consumes them) has at most its static shape from ec_model_output_info,
 * the upper bound its memory is planned for; its data is dense in the actual
 * shape. Other outputs report their static shape. */
EC_API ec_status ec_session_output_shape(const ec_session *session, size_t index,
                                         int64_t *out_shape, int32_t *out_rank);
/* Which dims of an output depend on the input values: bit k for dim k (0: a
 * static shape). */
EC_API ec_status ec_model_output_dynamic_dims(const ec_model *model, size_t index,
                                              uint32_t *out_mask);

/* Wall time of one instruction in the last run, in nanoseconds, for a
 * session created with options.profile set. */
EC_API ec_status ec_session_profile(const ec_session *session,
                                    size_t instruction, uint64_t *out_ns,
                                    const char **out_op_name);
EC_API ec_status ec_model_num_instructions(const ec_model *model,
                                           size_t *out_n);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_EDGEC_H_ */
