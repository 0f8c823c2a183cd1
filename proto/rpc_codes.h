#pragma once
enum rpc_code {
#define XX(name, val, desc) name = val,
#include "proto/rpc_codes.def"
#undef XX
};
/* "RPC_GET" etc., or "RPC_UNKNOWN". */
const char *rpc_code_name(int code);
