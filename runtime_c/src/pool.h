/* A fixed pool of worker threads for ec_parallel_for. Created with the
 * session; dispatching work allocates nothing. */
#ifndef EDGEC_POOL_H_
#define EDGEC_POOL_H_

#include "kernel.h"

typedef struct ec_pool ec_pool;

ec_status ec_pool_create(int32_t threads, ec_pool **out_pool);
void ec_pool_free(ec_pool *pool);

#endif /* EDGEC_POOL_H_ */
