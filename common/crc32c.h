#pragma once
/* CRC32C (Castagnoli), as used by the plog. crc32c(0, p, n) starts a new checksum; pass the
 * previous result as `crc` to extend it. */
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);
