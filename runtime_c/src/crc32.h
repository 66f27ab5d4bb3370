#ifndef EDGEC_CRC32_H_
#define EDGEC_CRC32_H_

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib.crc32) of data[0, size). */
uint32_t ec_crc32(const uint8_t *data, size_t size);

#endif /* EDGEC_CRC32_H_ */
