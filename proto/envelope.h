#pragma once
/*
 * The envelope every message travels in: a msgpack array
 *   [version, rpc_code, rpc_id, gpid, ballot, error, limit, seq, body]
 * body is a msgpack bin holding the message's own msgpack encoding (proto/msg.h).
 * error is 0 or one of common/err.h's project codes (err_to_wire maps everything else).
 * In a request, limit is the largest reply body the caller takes (a larger reply becomes
 * ERR_REPLY_TOO_LARGE, whose body is the size needed as a msgpack uint) and seq is 0. In a
 * reply, limit is the server's reply window (the reply bytes one connection may have
 * outstanding) and seq numbers the replies of the connection from 1, so a lost one shows.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/types.h"

#define ENVELOPE_VERSION 2

struct unpacked;

struct envelope {
    uint32_t version;
    uint32_t code;
    uint64_t rpc_id;
    uint64_t gpid;
    ballot_t ballot;
    int32_t error;
    const uint8_t *body; /* borrowed */
    size_t body_len;
    uint64_t limit;
    uint64_t seq;
};

void envelope_encode(struct buf *out, const struct envelope *e);
/* Strict decode of one envelope from the wire. On success *zonep owns the memory e->body
 * points into (free with unpacked_free). ERR_INVALID_DATA / ERR_VERSION / ERR_TOO_LARGE. */
MUST_CHECK int envelope_decode(const uint8_t *buf, size_t len, struct envelope *e,
                               struct unpacked **zonep);
/* Maps any return code to one that may cross the wire. */
int err_to_wire(int err);
