/*
 * badpeer: sends malformed messages to a geokv server and checks that each one is answered
 * with an error (never silence, never a crash). Used by the integration tests:
 *   badpeer HOST:PORT [APP_ID.PIDX]   exit 0 if every bad message got an error reply in time
 * With a gpid the partition-level cases are addressed to that partition (which the server
 * holds), so its own size checks answer: the 70000-byte hash_key must get ERR_TOO_LARGE.
 * Cases: random bytes, a truncated envelope, a wrong protocol version, an unknown rpc code, a
 * write whose body is not msgpack, a map header claiming 2^28 pairs (the msgpack bomb), and a
 * write with a hash_key over 64 KiB.
 */
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

static int
roundtrip(int sock, const char *what, const void *msg, size_t len, int want_err)
{
    void *reply = NULL;
    struct envelope env;
    struct unpacked *zone;
    int n, rc;
    if (nn_send(sock, msg, len, 0) < 0) {
        fprintf(stderr, "badpeer: %s: send: %s\n", what, nn_strerror(nn_errno()));
        return 1;
    }
    n = nn_recv(sock, &reply, NN_MSG, 0);
    if (n < 0) {
        fprintf(stderr, "badpeer: %s: no reply: %s\n", what, nn_strerror(nn_errno()));
        return 1;
    }
    rc = envelope_decode(reply, (size_t)n, &env, &zone);
    nn_freemsg(reply);
    if (rc != 0) {
        fprintf(stderr, "badpeer: %s: reply does not decode: %s\n", what, err_name(rc));
        return 1;
    }
    unpacked_free(zone);
    if (env.error == 0 || (want_err && env.error != want_err)) {
        fprintf(stderr, "badpeer: %s: got %s, want %s\n", what, err_name(env.error),
                want_err ? err_name(want_err) : "an error");
        return 1;
    }
    printf("badpeer: %-28s -> %s\n", what, err_name(env.error));
    return 0;
}

static uint64_t target_gpid;

static void
envelope_with(struct buf *out, uint32_t version, uint32_t code, const void *body, size_t len)
{
    struct envelope e = {.version = version,
                         .code = code,
                         .rpc_id = 7,
                         .gpid = target_gpid,
                         .body = body,
                         .body_len = len,
                         .limit = 1u << 20};
    buf_reset(out);
    envelope_encode(out, &e);
}

int
main(int argc, char **argv)
{
    static const uint8_t bomb[] = {0xdf, 0x10, 0x00, 0x00, 0x00, 0x01, 0x02};
    struct buf m = BUF_INIT, body = BUF_INIT;
    uint8_t junk[512];
    char url[128];
    int sock, fails = 0, timeout = 5000;
    unsigned app, pidx;
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: badpeer HOST:PORT [APP_ID.PIDX]\n");
        return 2;
    }
    if (argc == 3) {
        if (sscanf(argv[2], "%u.%u", &app, &pidx) != 2) {
            fprintf(stderr, "badpeer: bad gpid %s\n", argv[2]);
            return 2;
        }
        target_gpid = gpid_make(app, pidx);
    }
    sock = nn_socket(AF_SP, NN_REQ);
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout, sizeof(timeout));
    snprintf(url, sizeof(url), "tcp://%s", argv[1]);
    if (nn_connect(sock, url) < 0) {
        fprintf(stderr, "badpeer: connect %s: %s\n", url, nn_strerror(nn_errno()));
        return 2;
    }
    srand(42);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    fails += roundtrip(sock, "random bytes", junk, sizeof(junk), 0);
    fails += roundtrip(sock, "msgpack map bomb", bomb, sizeof(bomb), ERR_INVALID_DATA);
    envelope_with(&m, ENVELOPE_VERSION, RPC_GET, "x", 1);
    fails += roundtrip(sock, "truncated envelope", m.data, m.len - 1, ERR_INVALID_DATA);
    envelope_with(&m, 99, RPC_GET, NULL, 0);
    fails += roundtrip(sock, "wrong version", m.data, m.len, ERR_VERSION);
    envelope_with(&m, ENVELOPE_VERSION, 12345, NULL, 0);
    fails += roundtrip(sock, "unknown rpc code", m.data, m.len, 0);
    envelope_with(&m, ENVELOPE_VERSION, RPC_WRITE, junk, 64);
    fails += roundtrip(sock, "write with a junk body", m.data, m.len, 0);
    {
        size_t big = 70000;
        char *hk = calloc(1, big);
        struct write_op op = {OP_SET, bytes_of(hk, big), bytes_of("s", 1), bytes_of("v", 1), 0};
        struct msg_write_req w = {1, &op};
        msg_write_req_encode(&body, &w);
        envelope_with(&m, ENVELOPE_VERSION, RPC_WRITE, body.data, body.len);
        fails += roundtrip(sock, "hash_key of 70000 bytes", m.data, m.len,
                           target_gpid ? ERR_TOO_LARGE : 0);
        free(hk);
    }
    nn_close(sock);
    buf_fini(&m);
    buf_fini(&body);
    return fails ? 1 : 0;
}
