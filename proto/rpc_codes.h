#pragma once
#include <stdint.h>

#define KIB(n) ((uint64_t)(n) << 10)

enum rpc_code {
#define XX(name, val, limit, auth, desc) name = val,
#include "proto/rpc_codes.def"
#undef XX
};
/* "RPC_GET" etc., or "RPC_UNKNOWN". */
const char *rpc_code_name(int code);
/* The largest reply body a call of code takes by default (rpc_codes.def); 64 KiB for an
 * unknown code. */
uint64_t rpc_reply_limit(int code);

/* Who may send a code to a server with keys: anyone (DATA, unless require_client_auth), or
 * only a signer (ADMIN: operators' tools; PEER: servers). Unknown codes count as PEER. */
enum rpc_auth { RPC_AUTH_DATA, RPC_AUTH_ADMIN, RPC_AUTH_PEER };
enum rpc_auth rpc_code_auth(int code);
