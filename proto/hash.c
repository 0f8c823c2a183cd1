/* hash.c: the fixed key hash (XXH64, seed 0). */
#include "proto/hash.h"

#include <xxhash.h>

#include "common/log.h"

uint64_t
key_hash64(const void *hash_key, size_t hk_len, const void *sort_key, size_t sk_len)
{
    if (hk_len == 0)
        return XXH64(sort_key, sk_len, 0);
    return XXH64(hash_key, hk_len, 0);
}

uint32_t
key_partition(const void *hash_key, size_t hk_len, const void *sort_key, size_t sk_len,
              uint32_t partition_count)
{
    ASSERT(partition_count > 0);
    return (uint32_t)(key_hash64(hash_key, hk_len, sort_key, sk_len) % partition_count);
}
