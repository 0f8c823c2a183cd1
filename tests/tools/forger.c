/*
 * forger: speaks for a primary, a source cluster and a genuine client, and checks that a
 * server with [security] keys refuses every message it should:
 *
 *   forger HOST:PORT APP_ID.PIDX CONFIG [--forged-only]
 *
 * exits 0 if every forged message was refused (ERR_AUTH, or ERR_STALE_INCARNATION for one
 * signed for another incarnation) and every genuine one succeeded. HOST:PORT
 * serves the partition (its primary, unless --forged-only), CONFIG has the cluster's
 * [security] keys (for the genuine and replayed messages). Cases, all addressed to the
 * partition:
 * a group check with a huge ballot, unsigned and signed with a wrong key; a prepare whose
 * mutation is committed by its own commit point; an unsigned compaction, then the server's
 * own signed refusal of it sent back as a request; a duplication batch; a signed write whose
 * body was changed after signing; a signed write for another incarnation of the server (as
 * if captured before it restarted); and a genuine signed
 * write (set forger/replay = first, accepted), then another (= second, accepted), then the
 * first one's exact bytes again, which must be refused: the test then reads "second". With
 * --forged-only (for a secondary) only the forged cases.
 */
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/auth.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/mutation.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

static uint64_t target_gpid, channel, seq, epoch;

/* Sends msg and returns the error of the reply (or 1 if there is none); notes the server's
 * incarnation, and keeps the reply's bytes in last_reply. */
static struct buf last_reply;

static int
exchange(int sock, const struct buf *msg)
{
    void *reply = NULL;
    struct envelope env;
    struct unpacked *zone;
    int n, rc;
    if (nn_send(sock, msg->data, msg->len, 0) < 0 || (n = nn_recv(sock, &reply, NN_MSG, 0)) < 0)
        return 1;
    buf_reset(&last_reply);
    buf_append(&last_reply, reply, (size_t)n);
    rc = envelope_decode(reply, (size_t)n, &env, &zone);
    nn_freemsg(reply);
    if (rc != 0)
        return 1;
    unpacked_free(zone);
    epoch = env.epoch;
    return env.error;
}

/* An envelope for code with body; signed with key_id (0: unsigned) for incarnation at. */
static void
envelope_of(struct buf *out, uint32_t code, ballot_t ballot, const struct buf *body,
            uint32_t key_id, uint64_t at)
{
    struct envelope e = {.version = ENVELOPE_VERSION,
                         .code = code,
                         .rpc_id = ++seq,
                         .gpid = target_gpid,
                         .ballot = ballot,
                         .body = body->data,
                         .body_len = body->len,
                         .limit = 1u << 20};
    if (key_id != 0) {
        e.key_id = key_id;
        e.channel = channel;
        e.seq = seq;
        e.epoch = at;
    }
    buf_reset(out);
    envelope_encode(out, &e);
    if (key_id != 0 && auth_sign(out, key_id) != 0)
        abort();
}

static int
check(int sock, const char *what, const struct buf *msg, int want)
{
    int got = exchange(sock, msg);
    if (got != want) {
        fprintf(stderr, "forger: %s: got %s, want %s\n", what,
                got == 1 ? "no reply" : err_name(got), want ? err_name(want) : "success");
        return 1;
    }
    printf("forger: %-44s -> %s\n", what, got ? err_name(got) : "OK");
    return 0;
}

static void
write_body(struct buf *out, const char *value)
{
    struct write_op op = {.type = OP_SET,
                          .hash_key = {(const uint8_t *)"forger", 6},
                          .sort_key = {(const uint8_t *)"replay", 6},
                          .value = {(const uint8_t *)value, strlen(value)}};
    buf_reset(out);
    msg_write_req_encode(out, &(struct msg_write_req){1, &op});
}

int
main(int argc, char **argv)
{
    struct buf m = BUF_INIT, body = BUF_INIT, first = BUF_INIT;
    char url[128];
    unsigned app, pidx;
    int sock, fails = 0, timeout = 5000;
    int64_t now = clock_wall_us() / 1000;
    struct buf none = BUF_INIT;
    uint32_t key;
    bool forged_only = argc == 5 && strcmp(argv[4], "--forged-only") == 0;
    if ((argc != 4 && !forged_only) || sscanf(argv[2], "%u.%u", &app, &pidx) != 2) {
        fprintf(stderr, "usage: forger HOST:PORT APP_ID.PIDX CONFIG [--forged-only]\n");
        return 2;
    }
    target_gpid = gpid_make(app, pidx);
    log_set_level(LOG_LVL_WARN);
    if (auth_load(argv[3], NULL, 0) != 0 || (key = auth_sign_key()) == 0) {
        fprintf(stderr, "forger: %s has no [security] keys\n", argv[3]);
        return 2;
    }
    if (RAND_bytes((uint8_t *)&channel, sizeof(channel)) != 1)
        return 2;
    sock = nn_socket(AF_SP, NN_REQ);
    snprintf(url, sizeof(url), "tcp://%s", argv[1]);
    if (sock < 0 || nn_connect(sock, url) < 0) {
        fprintf(stderr, "forger: cannot connect to %s\n", argv[1]);
        return 2;
    }
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout));
    envelope_of(&m, RPC_HELLO, 0, &none, 0, 0);
    fails += check(sock, "hello (the server's incarnation)", &m, 0);

    /* a primary's group check with a ballot no meta gave: the secondary would adopt it */
    {
        struct msg_group_check_req gc = {.config = {.pidx = pidx, .ballot = 1000000000000LL},
                                         .last_committed = 1};
        snprintf(gc.config.primary, sizeof(gc.config.primary), "%s", argv[1]);
        buf_reset(&body);
        msg_group_check_req_encode(&body, &gc);
        envelope_of(&m, RPC_GROUP_CHECK, gc.config.ballot, &body, 0, 0);
        fails += check(sock, "unsigned group check, ballot 10^12", &m, ERR_AUTH);
    }
    /* the same, signed with a key of the right id but the wrong bytes: needs another keyring */
    {
        char path[] = "/tmp/forger-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL)
            return 2;
        fprintf(f, "[security]\nkeys = %u:", key);
        for (int i = 0; i < 32; i++)
            fprintf(f, "%02x", (unsigned)(rand() & 0xff));
        fprintf(f, "\n");
        fclose(f);
        if (auth_load(path, NULL, 0) != 0)
            return 2;
        remove(path);
        envelope_of(&m, RPC_GROUP_CHECK, 1000000000000LL, &body, key, epoch);
        fails += check(sock, "group check signed with a wrong key", &m, ERR_AUTH);
        if (auth_load(argv[3], NULL, 0) != 0)
            return 2;
    }
    /* a prepare whose mutation its own commit point commits */
    {
        struct mutation_op op = {.type = OP_SET,
                                 .hash_key = {(const uint8_t *)"forger", 6},
                                 .sort_key = {(const uint8_t *)"prepared", 8},
                                 .value = {(const uint8_t *)"forged", 6},
                                 .timetag = 1};
        struct mutation mu = {.gpid = target_gpid,
                              .ballot = 1000000000000LL,
                              .decree = 1000000,
                              .nops = 1,
                              .ops = &op,
                              .last_committed = 1000000};
        struct buf enc = BUF_INIT;
        struct bytes one;
        mutation_encode(&enc, &mu);
        one = (struct bytes){enc.data, enc.len};
        buf_reset(&body);
        msg_prepare_req_encode(&body, &(struct msg_prepare_req){1000000, 1, &one});
        envelope_of(&m, RPC_PREPARE, mu.ballot, &body, 0, 0);
        fails += check(sock, "unsigned prepare with a commit point", &m, ERR_AUTH);
        buf_fini(&enc);
    }
    /* the server's own signed refusal of a compaction, sent back to it as a request */
    {
        struct buf reflected = BUF_INIT;
        buf_reset(&body);
        envelope_of(&m, RPC_COMPACT, 0, &body, 0, 0);
        fails += check(sock, "unsigned compaction", &m, ERR_AUTH);
        buf_append(&reflected, last_reply.data, last_reply.len);
        fails += check(sock, "its signed refusal sent back as a request", &reflected, ERR_AUTH);
        buf_fini(&reflected);
    }
    /* a duplication batch from another datacenter */
    {
        struct mutation_op op = {.type = OP_SET,
                                 .hash_key = {(const uint8_t *)"forger", 6},
                                 .sort_key = {(const uint8_t *)"duplicated", 10},
                                 .value = {(const uint8_t *)"forged", 6},
                                 .timetag = (uint64_t)now * 1000 << 8};
        buf_reset(&body);
        msg_dup_apply_req_encode(&body, &(struct msg_dup_apply_req){2, 1, &op, {0, -1, 0}});
        envelope_of(&m, RPC_DUP_APPLY, 0, &body, 0, 0);
        fails += check(sock, "unsigned duplication batch", &m, ERR_AUTH);
    }
    /* genuine writes, a changed one, an old one, and a replay */
    if (forged_only)
        goto out;
    write_body(&body, "first");
    envelope_of(&first, RPC_WRITE, 0, &body, key, epoch);
    fails += check(sock, "genuine signed write (first)", &first, 0);
    write_body(&body, "second");
    envelope_of(&m, RPC_WRITE, 0, &body, key, epoch);
    fails += check(sock, "genuine signed write (second)", &m, 0);
    fails += check(sock, "the first write again (a replay)", &first, ERR_AUTH);
    write_body(&body, "third");
    envelope_of(&m, RPC_WRITE, 0, &body, key, epoch);
    m.data[m.len - AUTH_MAC_BYTES - 4] ^= 1; /* in the body, under the signature */
    fails += check(sock, "signed write changed after signing", &m, ERR_AUTH);
    envelope_of(&m, RPC_WRITE, 0, &body, key, epoch ^ 1);
    fails += check(sock, "signed for the server's previous incarnation", &m, ERR_STALE_INCARNATION);
out:
    nn_close(sock);
    buf_fini(&m);
    buf_fini(&body);
    buf_fini(&first);
    buf_fini(&none);
    buf_fini(&last_reply);
    return fails ? 1 : 0;
}
