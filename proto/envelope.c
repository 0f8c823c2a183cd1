/* envelope.c: the outer message of every RPC, and the error mapping for the wire. */
#include "proto/envelope.h"

#include <errno.h>

#include "proto/auth.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

const char *
rpc_code_name(int code)
{
    switch (code) {
#define XX(name, val, limit, auth, desc)                                                           \
    case val:                                                                                      \
        return #name;
#include "proto/rpc_codes.def"
#undef XX
    }
    return "RPC_UNKNOWN";
}

uint64_t
rpc_reply_limit(int code)
{
    switch (code) {
#define XX(name, val, limit, auth, desc)                                                           \
    case val:                                                                                      \
        return limit;
#include "proto/rpc_codes.def"
#undef XX
    }
    return KIB(64);
}

enum rpc_auth
rpc_code_auth(int code)
{
    switch (code) {
#define XX(name, val, limit, auth, desc)                                                           \
    case val:                                                                                      \
        return RPC_AUTH_##auth;
#include "proto/rpc_codes.def"
#undef XX
    }
    return RPC_AUTH_PEER;
}

void
envelope_encode(struct buf *out, const struct envelope *e)
{
    struct pk p = {out};
    static const uint8_t unsigned_mac[AUTH_MAC_BYTES];
    pk_tuple(&p, "uuuuiiuuuuuuyy", (uint64_t)e->version, (uint64_t)e->code, e->rpc_id, e->gpid,
             (int64_t)e->ballot, (int64_t)e->error, e->limit, e->seq, e->channel, e->epoch,
             (uint64_t)e->key_id, (uint64_t)e->flags, (const void *)e->body, e->body_len,
             (const void *)unsigned_mac, (size_t)(e->key_id ? AUTH_MAC_BYTES : 0));
}

/* The version comes first in every version's envelope: read it before the rest, whose
 * shape depends on it. */
static int
envelope_version(struct upk root, uint64_t *version)
{
    struct upk first;
    uint32_t n;
    int rc = upk_array(root, &n);
    if (rc == 0 && n == 0)
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        rc = upk_at(root, 0, &first);
    return rc != 0 ? rc : upk_uint(first, version);
}

int
envelope_decode(const uint8_t *buf, size_t len, struct envelope *e, struct unpacked **zonep)
{
    uint64_t version, code, key_id, flags;
    int64_t error;
    int rc;
    *zonep = NULL;
    if (len > GEOKV_MAX_MESSAGE)
        return ERR_TOO_LARGE;
    rc = unpacked_parse(buf, len, zonep);
    if (rc != 0)
        return rc;
    rc = envelope_version(unpacked_root(*zonep), &version);
    if (rc == 0 && version != ENVELOPE_VERSION)
        rc = ERR_VERSION;
    if (rc == 0)
        rc = upk_tuple(unpacked_root(*zonep), "uuuuiiuuuuuuyy", &version, &code, &e->rpc_id,
                       &e->gpid, &e->ballot, &error, &e->limit, &e->seq, &e->channel, &e->epoch,
                       &key_id, &flags, &e->body, &e->body_len, &e->mac, &e->mac_len);
    if (rc == 0 && (code > UINT32_MAX || error > 0 || error < INT32_MIN || key_id > UINT32_MAX ||
                    flags > (ENVELOPE_SEALED | ENVELOPE_REPLY)))
        rc = ERR_INVALID_DATA;
    if (rc != 0) {
        unpacked_free(*zonep);
        *zonep = NULL;
        return rc;
    }
    e->version = (uint32_t)version;
    e->code = (uint32_t)code;
    e->error = (int32_t)error;
    e->key_id = (uint32_t)key_id;
    e->flags = (uint32_t)flags;
    return 0;
}

int
err_to_wire(int err)
{
    if (err == 0 || err_is_project(err))
        return err;
    switch (err) {
    case -ETIMEDOUT: return ERR_TIMEOUT;
    case -ENOENT: return ERR_NOT_FOUND;
    case -EINVAL: return ERR_INVALID_ARG;
    case -EAGAIN: return ERR_BUSY;
    case -ECONNREFUSED:
    case -ECONNRESET:
    case -EHOSTUNREACH: return ERR_NETWORK;
    case -EIO:
    case -ENOSPC:
    case -EROFS: return ERR_IO;
    default: return ERR_INTERNAL;
    }
}
