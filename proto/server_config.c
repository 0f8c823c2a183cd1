/*
 * server_config.c: answers RPC_SERVER_CONFIG from the run-time settings registry (see
 * server_config.h). No state of its own; any thread.
 */
#include "proto/server_config.h"

#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/runtime_config.h"
#include "proto/msg.h"
#include "proto/rpc.h"

/* The reason for an unknown key: its name and the names this process knows. */
static void
unknown_key(const char *key, char *out, size_t cap)
{
    char names[160];

    (void)runtime_config_list(names, sizeof(names));
    /* truncation is fine: a reason for a human */
    if (snprintf(out, cap, "unknown setting '%.64s' (settings here: %.150s)", key, names) < 0)
        out[0] = '\0';
}

void
server_config_serve(struct rpc_request *req)
{
    struct msg_server_config m, out;
    struct buf b = BUF_INIT;
    int rc;

    memset(&out, 0, sizeof(out));
    rc = msg_server_config_decode(req->env.body, req->env.body_len, &m);
    if (rc != 0) {
        snprintf(out.value, sizeof(out.value), "malformed server-config request");
        rc = ERR_INVALID_ARG;
    } else if (m.key[0] == '\0') {
        (void)runtime_config_list(out.value, sizeof(out.value));
    } else {
        snprintf(out.key, sizeof(out.key), "%s", m.key);
        if (m.value[0] != '\0')
            rc = runtime_config_set(m.key, m.value, out.value, sizeof(out.value));
        if (rc == 0)
            rc = runtime_config_show(m.key, out.value, sizeof(out.value));
        if (rc == ERR_NOT_FOUND)
            unknown_key(m.key, out.value, sizeof(out.value));
    }
    msg_server_config_encode(&b, &out);
    rpc_reply(req, rc, b.data, b.len);
    buf_fini(&b);
}
