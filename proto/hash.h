#pragma once
/*
 * Key routing: partition_index = hash64(hash_key) % partition_count, where hash64 is
 * XXH64 with seed 0 (libxxhash). An empty hash_key hashes the sort_key instead. The same
 * function routes client requests and duplicated writes; it is part of the on-disk format.
 */
#include <stddef.h>
#include <stdint.h>

uint64_t key_hash64(const void *hash_key, size_t hk_len, const void *sort_key, size_t sk_len);
uint32_t key_partition(const void *hash_key, size_t hk_len, const void *sort_key, size_t sk_len,
                       uint32_t partition_count);
