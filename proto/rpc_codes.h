#pragma once
#include <stdint.h>

#define KIB(n) ((uint64_t)(n) << 10)

enum rpc_code {
#define XX(name, val, limit, desc) name = val,
#include "proto/rpc_codes.def"
#undef XX
};
/* "RPC_GET" etc., or "RPC_UNKNOWN". */
const char *rpc_code_name(int code);
/* The largest reply body a call of code takes by default (rpc_codes.def); 64 KiB for an
 * unknown code. */
uint64_t rpc_reply_limit(int code);
