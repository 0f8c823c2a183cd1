#pragma once
/*
 * RPC_SERVER_CONFIG on the server side, shared by geokv-replica and geokv-meta: shows,
 * changes or lists the process's run-time settings (common/runtime_config.h).
 *
 * Request msg_server_config {key, value}: key empty = list (reply value: the setting names
 * joined by ','); value empty = show; else set. The reply is a msg_server_config with the key
 * and the (new) value; on an error (ERR_NOT_FOUND: unknown setting, ERR_INVALID_ARG: bad
 * value or malformed request) the reply's value carries a one-line reason for the operator.
 */
struct rpc_request;

/* Answers req (takes ownership; rpc_reply is called). Runs on: any thread; it only touches
 * atomics, so the server's RPC receive thread may call it directly. */
void server_config_serve(struct rpc_request *req);
