#pragma once
/*
 * The envelope every message travels in: a msgpack array
 *   [version, rpc_code, rpc_id, gpid, ballot, error, limit, seq, channel, epoch, key_id,
 *    flags, body, mac]
 * body is a msgpack bin holding the message's own msgpack encoding (proto/msg.h), or, with
 * ENVELOPE_SEALED in flags, that encoding sealed (proto/auth.h). Replies have ENVELOPE_REPLY. error is 0 or one of
 * common/err.h's project codes (err_to_wire maps everything else).
 * In a request, limit is the largest reply body the caller takes (a larger reply becomes
 * ERR_REPLY_TOO_LARGE, whose body is the size needed as a msgpack uint); a signed request
 * names the sending connection (channel, random), numbers its messages on it (seq, from 1)
 * and names the server's incarnation it was signed for (epoch), so a replay shows. In a
 * reply, limit is the server's reply window (the reply bytes one connection may have
 * outstanding), seq numbers the replies of the connection from 1, so a lost one shows,
 * channel echoes the request's, and epoch is the server's incarnation. A signed message has
 * its key (key_id) and an HMAC-SHA256 of everything before it (mac, 32 bytes); an unsigned
 * one has key 0 and an empty mac.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/types.h"

#define ENVELOPE_VERSION 2
#define ENVELOPE_SEALED 1u /* flags: the body is encrypted */
#define ENVELOPE_REPLY 2u  /* flags: a reply (signed with the rest: one is never a request) */

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
    uint64_t channel;
    uint64_t epoch;
    uint32_t key_id;
    uint32_t flags;
    const uint8_t *mac; /* borrowed; NULL when encoding a message to be signed */
    size_t mac_len;
};

/* Encodes e; with e->key_id set the MAC is left as AUTH_MAC_BYTES zero bytes, for auth_sign. */
void envelope_encode(struct buf *out, const struct envelope *e);
/* Strict decode of one envelope from the wire. On success *zonep owns the memory e->body
 * points into (free with unpacked_free). ERR_INVALID_DATA / ERR_VERSION / ERR_TOO_LARGE. */
MUST_CHECK int envelope_decode(const uint8_t *buf, size_t len, struct envelope *e,
                               struct unpacked **zonep);
/* Maps any return code to one that may cross the wire. */
int err_to_wire(int err);
