/*
 * Unit tests of proto/: every message codec, the mutation codec, the envelope, the msgpack
 * pre-scan, key hashing, timetags, and the nanomsg RPC client/server on 127.0.0.1.
 *
 * Codec robustness is checked generically over a table of (encoder of a representative
 * message, decoder): every proper prefix, every value in the tree replaced by nil or by a
 * value of another type, a missing last field are all rejected (never a crash), and an
 * appended field is accepted. Decoders always get an exactly-sized heap copy so that an
 * over-read shows up under valgrind/ASan.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/xmalloc.h"
#include "proto/envelope.h"
#include "proto/hash.h"
#include "proto/msg.h"
#include "proto/mutation.h"
#include "proto/pack.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "proto/types.h"
#include "tests/unit/unit_net.h"

#include "proto/msg_wire.inc"

/* A struct bytes initializer of a string literal (which may hold NUL bytes). */
#define BY(lit)                                                                                    \
    {                                                                                              \
        (const uint8_t *)(lit), sizeof(lit) - 1                                                    \
    }

static void
assert_bytes(struct bytes got, struct bytes want)
{
    cr_assert_eq(got.len, want.len, "length %zu, want %zu", got.len, want.len);
    if (want.len > 0)
        cr_assert(memcmp(got.p, want.p, want.len) == 0, "bytes differ");
}

/* ================= sample messages ================= */

static struct write_op write_ops[] = {
    {OP_SET, BY("user\0id"), BY("\0sort"), BY("v\0\xff\x00"), 0},
    {OP_DEL, BY("h"), BY(""), BY(""), 0},
    {OP_SET, BY(""), BY("only-sort"), BY("x"), 3600},
    {OP_SET, BY("\xff\xfe"), BY("s"), BY(""), UINT32_MAX},
};
#define NWRITE_OPS (sizeof(write_ops) / sizeof(write_ops[0]))

static struct bytes mget_keys[] = {BY("a"), BY(""), BY("b\0c"), BY("\xff")};

static struct kv_record records[] = {
    {BY("hk\0"), BY("sk1"), BY("value-1"), 0, 1},
    {BY("hk\0"), BY(""), BY("\0\0\0"), UINT32_MAX, UINT64_MAX},
    {BY(""), BY("x"), BY(""), 17, 0x123456789abcdef0ull},
};
#define NRECORDS (sizeof(records) / sizeof(records[0]))

static struct replica_report reports[] = {
    {0x0000000300000005ull, 7, 1000, true, 1002, ROLE_PRIMARY},
    {0x0000000300000006ull, -1, 0, false, 0, ROLE_INACTIVE},
    {UINT64_MAX, INT64_MAX, INT64_MIN, true, INT64_MAX, ROLE_LEARNER},
};

static struct replica_assign assigns[] = {
    {1,
     2,
     ROLE_PRIMARY,
     {3, 2, "127.0.0.1:1", 2, {"127.0.0.1:2", "127.0.0.1:3"}, 99},
     {"bjsrv-account", "temp", "127.0.0.1:34601,127.0.0.1:34602"},
     true},
    {0xffffffff00000000ull, -5, ROLE_SECONDARY, {0, -5, "", 0, {{0}}, 0}, {"", "", ""}, false},
};
static uint64_t drops[] = {42, 0, UINT64_MAX};

static struct mutation_op mut_ops[] = {
    {OP_SET, BY("h\0k"), BY("s"), BY("val\0ue"), 1700000000, 0x0123456789abcd03ull},
    {OP_DEL, BY("h\0k"), BY("t"), BY(""), 0, 0x0123456789abcd05ull},
    {OP_SET, BY(""), BY("sk-only"), BY("v"), UINT32_MAX, UINT64_MAX},
};

static struct app_info apps[] = {
    {1, "alpha", APP_AVAILABLE, 8, 3, 1700000000},
    {2, "b", APP_DROPPED, 1, 1, -1},
    {UINT32_MAX, "", APP_CREATING, 65536, 8, INT64_MAX},
};

static struct node_info nodes[] = {
    {"127.0.0.1:34801", NODE_ALIVE, 3, 5},
    {"10.1.2.3:65535", NODE_DEAD, 0, UINT32_MAX},
};

static struct partition_config parts[3];

static void
fill_parts(void)
{
    memset(parts, 0, sizeof(parts));
    for (uint32_t i = 0; i < 3; i++) {
        parts[i].pidx = i;
        parts[i].ballot = (ballot_t)i + 1;
        parts[i].last_committed = 100 + (decree_t)i;
    }
    snprintf(parts[0].primary, GEOKV_ADDR_MAX, "127.0.0.1:34801");
    parts[0].nsecondaries = 2;
    snprintf(parts[0].secondaries[0], GEOKV_ADDR_MAX, "127.0.0.1:34802");
    snprintf(parts[0].secondaries[1], GEOKV_ADDR_MAX, "127.0.0.1:34803");
    /* parts[1]: no primary, no secondaries */
    snprintf(parts[2].primary, GEOKV_ADDR_MAX, "host-with-a-long-name.example:1");
    parts[2].nsecondaries = GEOKV_MAX_REPLICAS;
    for (int i = 0; i < GEOKV_MAX_REPLICAS; i++)
        snprintf(parts[2].secondaries[i], GEOKV_ADDR_MAX, "s%d:%d", i, 40000 + i);
}

/* ================= encoders of the samples ================= */

static void
enc_write_req(struct buf *o)
{
    struct msg_write_req m = {NWRITE_OPS, write_ops};
    msg_write_req_encode(o, &m);
}

static void
enc_write_req_empty(struct buf *o)
{
    struct msg_write_req m = {0, NULL};
    msg_write_req_encode(o, &m);
}

static void
enc_write_resp(struct buf *o)
{
    struct msg_write_resp m = {123456789012345};
    msg_write_resp_encode(o, &m);
}

static void
enc_get_req(struct buf *o)
{
    struct msg_get_req m = {BY("user\0x"), BY("\0")};
    msg_get_req_encode(o, &m);
}

static void
enc_get_resp(struct buf *o)
{
    struct msg_get_resp m = {BY("val\0\xff"), 1700000000, 0xfedcba9876543210ull};
    msg_get_resp_encode(o, &m);
}

static void
enc_multi_get_req(struct buf *o)
{
    struct msg_multi_get_req m = {BY("hash\0key"), 4, mget_keys, 100};
    msg_multi_get_req_encode(o, &m);
}

static void
enc_scan_req(struct buf *o)
{
    struct msg_scan_req m = {true, BY("hk"), BY("a"), BY("z\0"), BY("resume\xff"), 500};
    msg_scan_req_encode(o, &m);
}

static void
enc_records_resp(struct buf *o)
{
    struct msg_records_resp m = {NRECORDS, records, BY("next\0key")};
    msg_records_resp_encode(o, &m);
}

static void
enc_incr_req(struct buf *o)
{
    struct msg_incr_req m = {BY("counter"), BY("\0"), -42, 60};
    msg_incr_req_encode(o, &m);
}

static void
enc_incr_resp(struct buf *o)
{
    struct msg_incr_resp m = {-9000000000ll};
    msg_incr_resp_encode(o, &m);
}

static void
enc_cas_req(struct buf *o)
{
    struct msg_cas_req m = {BY("hk"),    BY("check\0sk"), BY("old"), BY("set-sk"),
                            BY("new\0"), CAS_VALUE_EQUAL, 30};
    msg_cas_req_encode(o, &m);
}

static void
enc_cas_resp(struct buf *o)
{
    struct msg_cas_resp m = {true, BY("cur\0rent")};
    msg_cas_resp_encode(o, &m);
}

static void
enc_checkpoint_resp(struct buf *o)
{
    struct msg_checkpoint_resp m = {.decree = 77};
    snprintf(m.dir, sizeof(m.dir), "/data/geokv/3.5/checkpoint.77");
    msg_checkpoint_resp_encode(o, &m);
}

static void
enc_partition_info_resp(struct buf *o)
{
    struct msg_partition_info_resp m = {5, 1000, 990, 1, -1, true, 0, NULL, ROLE_PRIMARY, 0, NULL};
    msg_partition_info_resp_encode(o, &m);
}

static void
enc_beacon_req(struct buf *o)
{
    struct msg_beacon_req m = {"127.0.0.1:34801", 3, reports};
    msg_beacon_req_encode(o, &m);
}

static void
enc_beacon_resp(struct buf *o)
{
    struct msg_beacon_resp m = {2, assigns, 3, drops, 3000};
    msg_beacon_resp_encode(o, &m);
}

static void
enc_redirect(struct buf *o)
{
    struct msg_redirect m = {"127.0.0.1:34601"};
    msg_redirect_encode(o, &m);
}

static void
enc_app_name(struct buf *o)
{
    struct msg_app_name m = {"geo_table"};
    msg_app_name_encode(o, &m);
}

static void
enc_app_config(struct buf *o)
{
    struct msg_app_config m = {7,
                               "geo_table",
                               3,
                               3,
                               APP_AVAILABLE,
                               parts,
                               true,
                               {"bjsrv-account", "geo_table", "127.0.0.1:34601"},
                               true};
    fill_parts();
    msg_app_config_encode(o, &m);
}

static void
enc_create_app_req(struct buf *o)
{
    struct msg_create_app_req m = {"new_table", 16, 3, {"bjsrv-account", "old_table", "m:1"}};
    msg_create_app_req_encode(o, &m);
}

static void
enc_list_apps_resp(struct buf *o)
{
    struct msg_list_apps_resp m = {3, apps};
    msg_list_apps_resp_encode(o, &m);
}

static void
enc_list_nodes_resp(struct buf *o)
{
    struct msg_list_nodes_resp m = {"127.0.0.1:34601", 2, nodes};
    msg_list_nodes_resp_encode(o, &m);
}

static void
enc_mutation(struct buf *o)
{
    struct mutation m = {gpid_make(3, 5), 9, 123456789012ll, MUTATION_FROM_DUP, 3, mut_ops,
                         123456789000ll};
    mutation_encode(o, &m);
}

static void
enc_mutation_empty(struct buf *o)
{
    struct mutation m = {gpid_make(1, 0), 1, 1, 0, 0, NULL, 0};
    mutation_encode(o, &m);
}

static void
enc_envelope(struct buf *o)
{
    static const uint8_t body[] = {0x93, 0x01, 0xc0, 0x00, 0xff};
    struct envelope e = {.version = ENVELOPE_VERSION,
                         .code = RPC_GET,
                         .rpc_id = 0xfffffffffull,
                         .gpid = gpid_make(2, 9),
                         .ballot = -3,
                         .error = ERR_NOT_FOUND,
                         .body = body,
                         .body_len = sizeof(body),
                         .limit = 1u << 20,
                         .seq = 77,
                         .channel = 5,
                         .epoch = 0x123456789abcull};
    envelope_encode(o, &e);
}

/* ================= decoders: decode, check the failure contract, free ================= */

static int
dec_write_req(const uint8_t *b, size_t n)
{
    struct msg_write_req m;
    struct unpacked *z = NULL;
    int rc = msg_write_req_decode(b, n, &m, &z);
    if (rc != 0) {
        cr_assert_null(z, "zone kept on failure");
        cr_assert_null(m.ops, "ops kept on failure");
        return rc;
    }
    msg_write_req_fini(&m);
    unpacked_free(z);
    return 0;
}

static int
dec_write_resp(const uint8_t *b, size_t n)
{
    struct msg_write_resp m;
    return msg_write_resp_decode(b, n, &m);
}

static int
dec_get_req(const uint8_t *b, size_t n)
{
    struct msg_get_req m;
    struct unpacked *z = NULL;
    int rc = msg_get_req_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_get_resp(const uint8_t *b, size_t n)
{
    struct msg_get_resp m;
    struct unpacked *z = NULL;
    int rc = msg_get_resp_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_multi_get_req(const uint8_t *b, size_t n)
{
    struct msg_multi_get_req m;
    struct unpacked *z = NULL;
    int rc = msg_multi_get_req_decode(b, n, &m, &z);
    if (rc != 0) {
        cr_assert_null(z);
        cr_assert_null(m.sort_keys);
        return rc;
    }
    msg_multi_get_req_fini(&m);
    unpacked_free(z);
    return 0;
}

static int
dec_scan_req(const uint8_t *b, size_t n)
{
    struct msg_scan_req m;
    struct unpacked *z = NULL;
    int rc = msg_scan_req_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_records_resp(const uint8_t *b, size_t n)
{
    struct msg_records_resp m;
    struct unpacked *z = NULL;
    int rc = msg_records_resp_decode(b, n, &m, &z);
    if (rc != 0) {
        cr_assert_null(z);
        cr_assert_null(m.records);
        return rc;
    }
    msg_records_resp_fini(&m);
    unpacked_free(z);
    return 0;
}

static int
dec_incr_req(const uint8_t *b, size_t n)
{
    struct msg_incr_req m;
    struct unpacked *z = NULL;
    int rc = msg_incr_req_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_incr_resp(const uint8_t *b, size_t n)
{
    struct msg_incr_resp m;
    return msg_incr_resp_decode(b, n, &m);
}

static int
dec_cas_req(const uint8_t *b, size_t n)
{
    struct msg_cas_req m;
    struct unpacked *z = NULL;
    int rc = msg_cas_req_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_cas_resp(const uint8_t *b, size_t n)
{
    struct msg_cas_resp m;
    struct unpacked *z = NULL;
    int rc = msg_cas_resp_decode(b, n, &m, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

static int
dec_checkpoint_resp(const uint8_t *b, size_t n)
{
    struct msg_checkpoint_resp m;
    return msg_checkpoint_resp_decode(b, n, &m);
}

static int
dec_beacon_req(const uint8_t *b, size_t n)
{
    struct msg_beacon_req m;
    int rc = msg_beacon_req_decode(b, n, &m);
    if (rc != 0)
        cr_assert_null(m.replicas);
    msg_beacon_req_fini(&m);
    return rc;
}

static int
dec_beacon_resp(const uint8_t *b, size_t n)
{
    struct msg_beacon_resp m;
    int rc = msg_beacon_resp_decode(b, n, &m);
    if (rc != 0)
        cr_assert(m.assign == NULL && m.drop == NULL);
    msg_beacon_resp_fini(&m);
    return rc;
}

static int
dec_redirect(const uint8_t *b, size_t n)
{
    struct msg_redirect m;
    return msg_redirect_decode(b, n, &m);
}

static int
dec_app_name(const uint8_t *b, size_t n)
{
    struct msg_app_name m;
    return msg_app_name_decode(b, n, &m);
}

static int
dec_app_config(const uint8_t *b, size_t n)
{
    struct msg_app_config m;
    int rc = msg_app_config_decode(b, n, &m);
    if (rc != 0)
        cr_assert_null(m.partitions);
    msg_app_config_fini(&m);
    return rc;
}

static int
dec_create_app_req(const uint8_t *b, size_t n)
{
    struct msg_create_app_req m;
    return msg_create_app_req_decode(b, n, &m);
}

static int
dec_list_apps_resp(const uint8_t *b, size_t n)
{
    struct msg_list_apps_resp m;
    int rc = msg_list_apps_resp_decode(b, n, &m);
    if (rc != 0)
        cr_assert_null(m.apps);
    msg_list_apps_resp_fini(&m);
    return rc;
}

static int
dec_list_nodes_resp(const uint8_t *b, size_t n)
{
    struct msg_list_nodes_resp m;
    int rc = msg_list_nodes_resp_decode(b, n, &m);
    if (rc != 0)
        cr_assert_null(m.nodes);
    msg_list_nodes_resp_fini(&m);
    return rc;
}

static int
dec_mutation(const uint8_t *b, size_t n)
{
    struct mutation m;
    struct unpacked *z = NULL;
    int rc = mutation_decode(b, n, &m, &z);
    if (rc != 0) {
        cr_assert_null(z);
        cr_assert_null(m.ops);
        return rc;
    }
    mutation_fini(&m);
    unpacked_free(z);
    return 0;
}

static int
dec_envelope(const uint8_t *b, size_t n)
{
    struct envelope e;
    struct unpacked *z = NULL;
    int rc = envelope_decode(b, n, &e, &z);
    if (rc != 0)
        cr_assert_null(z);
    unpacked_free(z);
    return rc;
}

struct codec {
    const char *name;
    void (*enc)(struct buf *out);
    int (*dec)(const uint8_t *b, size_t n);
};

#define CODEC(name, dec)                                                                           \
    {                                                                                              \
#name, enc_##name, dec_##dec                                                               \
    }
static const struct codec codecs[] = {
    CODEC(write_req, write_req),
    CODEC(write_req_empty, write_req),
    CODEC(write_resp, write_resp),
    CODEC(get_req, get_req),
    CODEC(get_resp, get_resp),
    CODEC(multi_get_req, multi_get_req),
    CODEC(scan_req, scan_req),
    CODEC(records_resp, records_resp),
    CODEC(incr_req, incr_req),
    CODEC(incr_resp, incr_resp),
    CODEC(cas_req, cas_req),
    CODEC(cas_resp, cas_resp),
    CODEC(checkpoint_resp, checkpoint_resp),
    CODEC(beacon_req, beacon_req),
    CODEC(beacon_resp, beacon_resp),
    CODEC(redirect, redirect),
    CODEC(app_name, app_name),
    CODEC(create_app_req, create_app_req),
    CODEC(list_apps_resp, list_apps_resp),
    CODEC(list_nodes_resp, list_nodes_resp),
    CODEC(mutation, mutation),
    CODEC(mutation_empty, mutation),
    CODEC(envelope, envelope),
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/*
 * The generic tests below run on the codecs above and on the sample of every message the
 * generated msg_wire table has (proto/msg.schema).
 */
#define NMSG_WIRE (sizeof(msg_wire) / sizeof(msg_wire[0]))
#define NCASES (NCODECS + NMSG_WIRE)

static const char *
case_name(size_t i)
{
    return i < NCODECS ? codecs[i].name : msg_wire[i - NCODECS].name;
}

static void
case_enc(size_t i, struct buf *out)
{
    if (i < NCODECS)
        codecs[i].enc(out);
    else
        msg_wire[i - NCODECS].sample(out);
}

/* Decodes an exactly-sized heap copy of b[0..n) (so over-reads are caught by the tools); b
 * itself when it is empty. */
static int
case_dec(size_t i, const uint8_t *b, size_t n)
{
    struct buf out = BUF_INIT;
    uint8_t *copy = n > 0 ? xmemdup(b, n) : NULL;
    const uint8_t *in = n > 0 ? copy : b;
    int rc = i < NCODECS ? codecs[i].dec(in, n) : msg_wire[i - NCODECS].trip(in, n, &out);
    xfree(copy);
    buf_fini(&out);
    return rc;
}

/* ================= a tiny msgpack walker (valid input only) ================= */

struct mp_val {
    size_t off, len;
};

/* Records the value at b[off] and every value nested in it; returns its encoded length. */
static size_t
mp_walk(const uint8_t *b, size_t off, struct mp_val *vals, size_t *nvals)
{
    uint8_t t = b[off];
    size_t hdr = 1, body = 0, count = 0, idx = (*nvals)++, len;
    bool scalar = t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3;
    if (t >= 0xa0 && t <= 0xbf) {
        body = t & 0x1f;
    } else if (t >= 0x90 && t <= 0x9f) {
        count = t & 0x0f;
    } else if (t >= 0x80 && t <= 0x8f) {
        count = 2u * (t & 0x0f);
    } else if (!scalar) {
        switch (t) {
        case 0xcc:
        case 0xd0: hdr = 2; break;
        case 0xcd:
        case 0xd1: hdr = 3; break;
        case 0xce:
        case 0xd2: hdr = 5; break;
        case 0xcf:
        case 0xd3: hdr = 9; break;
        case 0xc4:
        case 0xd9:
            hdr = 2;
            body = b[off + 1];
            break;
        case 0xc5:
        case 0xda:
            hdr = 3;
            body = be16_load(b + off + 1);
            break;
        case 0xc6:
        case 0xdb:
            hdr = 5;
            body = be32_load(b + off + 1);
            break;
        case 0xdc:
            hdr = 3;
            count = be16_load(b + off + 1);
            break;
        case 0xdd:
            hdr = 5;
            count = be32_load(b + off + 1);
            break;
        case 0xde:
            hdr = 3;
            count = 2u * be16_load(b + off + 1);
            break;
        case 0xdf:
            hdr = 5;
            count = 2u * (size_t)be32_load(b + off + 1);
            break;
        default: cr_assert_fail("mp_walk: unexpected byte 0x%02x", t);
        }
    }
    len = hdr + body;
    for (size_t i = 0; i < count; i++)
        len += mp_walk(b, off + len, vals, nvals);
    vals[idx] = (struct mp_val){off, len};
    return len;
}

/* out = in with the value v replaced by rep. */
static void
splice(struct buf *out, const struct buf *in, struct mp_val v, const void *rep, size_t rlen)
{
    buf_reset(out);
    buf_append(out, in->data, v.off);
    buf_append(out, rep, rlen);
    buf_append(out, in->data + v.off + v.len, in->len - v.off - v.len);
}

static bool
mp_is_int(uint8_t t)
{
    return t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3);
}

/* ================= generic codec robustness ================= */

Test(proto, every_sample_decodes)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT;
        case_enc(i, &b);
        cr_assert_eq(pack_prescan(b.data, b.len), 0, "%s", case_name(i));
        cr_assert_eq(case_dec(i, b.data, b.len), 0, "%s", case_name(i));
        buf_fini(&b);
    }
}

Test(proto, empty_input_rejected)
{
    for (size_t i = 0; i < NCASES; i++) {
        cr_assert_neq(case_dec(i, NULL, 0), 0, "%s", case_name(i));
        cr_assert_neq(case_dec(i, (const uint8_t *)"", 0), 0, "%s", case_name(i));
    }
}

Test(proto, every_truncation_rejected)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT;
        case_enc(i, &b);
        for (size_t n = 0; n < b.len; n++)
            cr_assert_neq(case_dec(i, b.data, n), 0, "%s: prefix %zu of %zu accepted", case_name(i),
                          n, b.len);
        buf_fini(&b);
    }
}

Test(proto, trailing_bytes_rejected)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT;
        case_enc(i, &b);
        buf_append_u8(&b, 0xc0);
        cr_assert_eq(case_dec(i, b.data, b.len), ERR_INVALID_DATA, "%s", case_name(i));
        buf_fini(&b);
    }
}

/* Every value anywhere in the tree replaced by nil, or by a value of another type. */
Test(proto, wrong_field_types_rejected)
{
    static const uint8_t nil = 0xc0, one = 0x01, str[] = {0xa1, 'x'};
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT, m = BUF_INIT;
        struct mp_val *vals;
        size_t nvals = 0;
        case_enc(i, &b);
        vals = xcalloc(b.len, sizeof(*vals));
        cr_assert_eq(mp_walk(b.data, 0, vals, &nvals), b.len);
        for (size_t v = 0; v < nvals; v++) {
            splice(&m, &b, vals[v], &nil, 1);
            cr_assert_neq(case_dec(i, m.data, m.len), 0, "%s: nil at offset %zu accepted",
                          case_name(i), vals[v].off);
            if (mp_is_int(b.data[vals[v].off]))
                splice(&m, &b, vals[v], str, sizeof(str));
            else
                splice(&m, &b, vals[v], &one, 1);
            cr_assert_neq(case_dec(i, m.data, m.len), 0, "%s: retyped value at offset %zu accepted",
                          case_name(i), vals[v].off);
        }
        xfree(vals);
        buf_fini(&m);
        buf_fini(&b);
    }
}

Test(proto, root_of_other_type_rejected)
{
    static const uint8_t roots[][3] = {{0x80}, {0x05}, {0xa1, 'x'}, {0xc0}, {0xc3}, {0x90}};
    static const size_t lens[] = {1, 1, 2, 1, 1, 1};
    for (size_t i = 0; i < NCASES; i++)
        for (size_t r = 0; r < sizeof(lens) / sizeof(lens[0]); r++)
            cr_assert_neq(case_dec(i, roots[r], lens[r]), 0, "%s root %zu", case_name(i), r);
}

/* The root array without its last required field (the ones after it were appended later
 * and may be missing). */
Test(proto, too_few_fields_rejected)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT, m = BUF_INIT;
        struct mp_val *vals;
        size_t nvals = 0, nfields, keep, end = 1;
        case_enc(i, &b);
        nfields = b.data[0] & 0x0f;
        cr_assert(b.data[0] >= 0x91 && b.data[0] <= 0x9f, "%s root is not a fixarray",
                  case_name(i));
        keep = (i < NCODECS ? nfields : msg_wire[i - NCODECS].required) - 1;
        vals = xcalloc(b.len, sizeof(*vals));
        (void)mp_walk(b.data, 0, vals, &nvals);
        /* the direct children follow each other from offset 1 */
        for (size_t f = 0; f < keep; f++) {
            size_t v = 0;
            while (vals[v].off != end)
                v++;
            end += vals[v].len;
        }
        buf_append_u8(&m, (uint8_t)(0x90 | keep));
        buf_append(&m, b.data + 1, end - 1);
        cr_assert_neq(case_dec(i, m.data, m.len), 0, "%s: %zu of %zu fields accepted", case_name(i),
                      keep, nfields);
        xfree(vals);
        buf_fini(&m);
        buf_fini(&b);
    }
}

/* Forward compatibility: fields appended to the root array are ignored (not in the envelope,
 * whose last field must be the MAC of all before it: a new envelope is a new version). */
Test(proto, extra_fields_accepted)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct buf b = BUF_INIT;
        struct pk p = {&b};
        if (strcmp(case_name(i), "envelope") == 0)
            continue;
        case_enc(i, &b);
        cr_assert(b.data[0] >= 0x90 && b.data[0] <= 0x9d, "%s", case_name(i));
        b.data[0] += 2;
        pk_str(&p, "a field from the future");
        pk_tuple(&p, "uiyn", (uint64_t)1, (int64_t)-1, "\0", (size_t)1);
        cr_assert_eq(case_dec(i, b.data, b.len), 0, "%s with extra fields", case_name(i));
        buf_fini(&b);
    }
}

/* ================= the wire does not change ================= */

struct golden {
    char name[64];
    struct buf bytes;
};

/* The lines of wire_golden.txt, in order; returns how many. */
static size_t
golden_load(struct golden *g, size_t max)
{
    FILE *f = fopen(WIRE_GOLDEN, "r");
    char line[8192];
    size_t n = 0;
    cr_assert_not_null(f, "%s", WIRE_GOLDEN);
    while (fgets(line, sizeof(line), f) != NULL) {
        char hex[8192];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        cr_assert_lt(n, max);
        cr_assert_eq(sscanf(line, "%63s %8191s", g[n].name, hex), 2, "bad line: %s", line);
        g[n].bytes = (struct buf)BUF_INIT;
        for (size_t k = 0; hex[k] != '\0' && hex[k + 1] != '\0'; k += 2) {
            unsigned v;
            cr_assert_eq(sscanf(hex + k, "%2x", &v), 1);
            buf_append_u8(&g[n].bytes, (uint8_t)v);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void
hex_of(const struct buf *b, char *out)
{
    for (size_t k = 0; k < b->len; k++)
        sprintf(out + 2 * k, "%02x", b->data[k]);
    out[2 * b->len] = '\0';
}

/* Every message still encodes its sample to the bytes on record, and every version on
 * record (an older peer's) still decodes. */
Test(proto, wire_bytes_unchanged)
{
    static struct golden g[256];
    size_t n = golden_load(g, 256);
    for (size_t i = 0; i < n; i++) {
        size_t w = 0;
        struct buf out = BUF_INIT;
        while (w < NMSG_WIRE && strcmp(msg_wire[w].name, g[i].name) != 0)
            w++;
        cr_assert_lt(w, NMSG_WIRE, "%s is on record but no longer a message: peers send it",
                     g[i].name);
        cr_assert_eq(msg_wire[w].trip(g[i].bytes.data, g[i].bytes.len, &out), 0,
                     "%s: recorded bytes (line %zu) no longer decode", g[i].name, i + 1);
        buf_fini(&out);
    }
    for (size_t w = 0; w < NMSG_WIRE; w++) {
        struct buf b = BUF_INIT;
        const struct golden *last = NULL;
        char hex[8192];
        msg_wire[w].sample(&b);
        hex_of(&b, hex);
        for (size_t i = 0; i < n; i++)
            if (strcmp(g[i].name, msg_wire[w].name) == 0)
                last = &g[i];
        cr_assert_not_null(last, "%s has no bytes on record: add \"%s %s\" to %s", msg_wire[w].name,
                           msg_wire[w].name, hex, WIRE_GOLDEN);
        cr_assert(last->bytes.len == b.len && memcmp(last->bytes.data, b.data, b.len) == 0,
                  "%s encodes differently from its last line in %s: now %s. A field appended "
                  "at the end is a new line below the old ones; anything else breaks older peers",
                  msg_wire[w].name, WIRE_GOLDEN, hex);
        buf_fini(&b);
    }
    for (size_t i = 0; i < n; i++)
        buf_fini(&g[i].bytes);
}

/* A message from a sender older than its appended fields decodes, with those fields zero. */
Test(proto, older_senders_accepted)
{
    size_t checked = 0;
    for (size_t w = 0; w < NMSG_WIRE; w++) {
        struct buf old = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
        if (msg_wire[w].old == NULL)
            continue;
        msg_wire[w].old(&old);
        msg_wire[w].sample_old(&want);
        cr_assert_eq(msg_wire[w].trip(old.data, old.len, &got), 0, "%s", msg_wire[w].name);
        cr_assert(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "%s",
                  msg_wire[w].name);
        checked++;
        buf_fini(&old);
        buf_fini(&want);
        buf_fini(&got);
    }
    cr_assert_geq(checked, 3); /* group_check_req, dup_sync_req, dup_sync_resp at least */
}

/* Error text is for display: a longer one is cut, a NUL ends it (not an error). */
Test(proto, error_text_is_lenient)
{
    char big[600];
    struct msg_error_text t;
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    memset(big, 'x', sizeof(big));
    pk_array(&p, 1);
    pk_strn(&p, big, sizeof(big));
    cr_assert_eq(msg_error_text_decode(b.data, b.len, &t), 0);
    cr_assert_eq(strlen(t.text), sizeof(t.text) - 1);
    buf_reset(&b);
    pk_array(&p, 1);
    pk_strn(&p, "why\0more", 8);
    cr_assert_eq(msg_error_text_decode(b.data, b.len, &t), 0);
    cr_assert_str_eq(t.text, "why");
    buf_fini(&b);
}

/* ================= round trips ================= */

static void
assert_write_ops(const struct msg_write_req *m, const struct write_op *want, uint32_t n)
{
    cr_assert_eq(m->nops, n);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(m->ops[i].type, want[i].type, "op %u", i);
        assert_bytes(m->ops[i].hash_key, want[i].hash_key);
        assert_bytes(m->ops[i].sort_key, want[i].sort_key);
        assert_bytes(m->ops[i].value, want[i].value);
        cr_assert_eq(m->ops[i].ttl_s, want[i].ttl_s);
    }
}

Test(proto, write_req_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_write_req m;
    struct unpacked *z;
    enc_write_req(&b);
    cr_assert_eq(msg_write_req_decode(b.data, b.len, &m, &z), 0);
    buf_fini(&b); /* slices point into the zone, not into the input */
    assert_write_ops(&m, write_ops, NWRITE_OPS);
    msg_write_req_fini(&m);
    cr_assert_null(m.ops);
    unpacked_free(z);

    enc_write_req_empty(&b);
    cr_assert_eq(msg_write_req_decode(b.data, b.len, &m, &z), 0);
    cr_assert_eq(m.nops, 0);
    msg_write_req_fini(&m);
    unpacked_free(z);
    buf_fini(&b);
}

Test(proto, write_req_bad_op_type_and_ttl)
{
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    pk_array(&p, 1);
    pk_array(&p, 1);
    pk_tuple(&p, "uyyyu", (uint64_t)3, "h", (size_t)1, "s", (size_t)1, "v", (size_t)1, (uint64_t)0);
    cr_assert_eq(dec_write_req(b.data, b.len), ERR_INVALID_DATA);
    buf_reset(&b);
    pk_array(&p, 1);
    pk_array(&p, 1);
    pk_tuple(&p, "uyyyu", (uint64_t)OP_SET, "h", (size_t)1, "s", (size_t)1, "v", (size_t)1,
             (uint64_t)UINT32_MAX + 1);
    cr_assert_eq(dec_write_req(b.data, b.len), ERR_INVALID_DATA);
    /* a nested op with a missing field, and one with an extra field */
    buf_reset(&b);
    pk_array(&p, 1);
    pk_array(&p, 1);
    pk_tuple(&p, "uyyy", (uint64_t)OP_SET, "h", (size_t)1, "s", (size_t)1, "v", (size_t)1);
    cr_assert_eq(dec_write_req(b.data, b.len), ERR_INVALID_DATA);
    buf_reset(&b);
    pk_array(&p, 1);
    pk_array(&p, 2);
    pk_tuple(&p, "uyyyu", (uint64_t)OP_SET, "h", (size_t)1, "s", (size_t)1, "v", (size_t)1,
             (uint64_t)5);
    pk_tuple(&p, "uyyyus", (uint64_t)OP_DEL, "h", (size_t)1, "", (size_t)0, "", (size_t)0,
             (uint64_t)0, "future");
    cr_assert_eq(dec_write_req(b.data, b.len), 0);
    buf_fini(&b);
}

Test(proto, write_resp_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_write_resp in = {-1}, out;
    msg_write_resp_encode(&b, &in);
    cr_assert_eq(msg_write_resp_decode(b.data, b.len, &out), 0);
    cr_assert_eq(out.decree, -1);
    buf_reset(&b);
    enc_write_resp(&b);
    cr_assert_eq(msg_write_resp_decode(b.data, b.len, &out), 0);
    cr_assert_eq(out.decree, 123456789012345);
    buf_fini(&b);
}

Test(proto, get_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_get_req rq;
    struct msg_get_resp rs;
    struct unpacked *z;
    enc_get_req(&b);
    cr_assert_eq(msg_get_req_decode(b.data, b.len, &rq, &z), 0);
    assert_bytes(rq.hash_key, (struct bytes)BY("user\0x"));
    assert_bytes(rq.sort_key, (struct bytes)BY("\0"));
    unpacked_free(z);
    buf_reset(&b);
    enc_get_resp(&b);
    cr_assert_eq(msg_get_resp_decode(b.data, b.len, &rs, &z), 0);
    assert_bytes(rs.value, (struct bytes)BY("val\0\xff"));
    cr_assert_eq(rs.expire_ts, 1700000000u);
    cr_assert_eq(rs.timetag, 0xfedcba9876543210ull);
    unpacked_free(z);
    /* expire_ts wider than 32 bits is malformed */
    buf_reset(&b);
    {
        struct pk p = {&b};
        pk_tuple(&p, "yuu", "v", (size_t)1, (uint64_t)UINT32_MAX + 1, (uint64_t)1);
    }
    cr_assert_eq(dec_get_resp(b.data, b.len), ERR_INVALID_DATA);
    buf_fini(&b);
}

Test(proto, multi_get_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_multi_get_req m;
    struct msg_multi_get_req empty = {BY("h"), 0, NULL, 0};
    struct unpacked *z;
    enc_multi_get_req(&b);
    cr_assert_eq(msg_multi_get_req_decode(b.data, b.len, &m, &z), 0);
    assert_bytes(m.hash_key, (struct bytes)BY("hash\0key"));
    cr_assert_eq(m.nkeys, 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_bytes(m.sort_keys[i], mget_keys[i]);
    cr_assert_eq(m.max_count, 100);
    msg_multi_get_req_fini(&m);
    unpacked_free(z);
    buf_reset(&b);
    msg_multi_get_req_encode(&b, &empty);
    cr_assert_eq(msg_multi_get_req_decode(b.data, b.len, &m, &z), 0);
    cr_assert_eq(m.nkeys, 0);
    cr_assert_eq(m.max_count, 0);
    msg_multi_get_req_fini(&m);
    unpacked_free(z);
    buf_fini(&b);
}

Test(proto, scan_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_scan_req m, part = {false, BY("h"), BY(""), BY(""), BY(""), 0};
    struct unpacked *z;
    enc_scan_req(&b);
    cr_assert_eq(msg_scan_req_decode(b.data, b.len, &m, &z), 0);
    cr_assert(m.full);
    assert_bytes(m.hash_key, (struct bytes)BY("hk"));
    assert_bytes(m.start_sort_key, (struct bytes)BY("a"));
    assert_bytes(m.stop_sort_key, (struct bytes)BY("z\0"));
    assert_bytes(m.resume_key, (struct bytes)BY("resume\xff"));
    cr_assert_eq(m.limit, 500);
    unpacked_free(z);
    buf_reset(&b);
    msg_scan_req_encode(&b, &part);
    cr_assert_eq(msg_scan_req_decode(b.data, b.len, &m, &z), 0);
    cr_assert_not(m.full);
    cr_assert_eq(m.start_sort_key.len, 0);
    cr_assert_eq(m.limit, 0);
    unpacked_free(z);
    buf_fini(&b);
}

Test(proto, records_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_records_resp m, none = {0, NULL, BY("")};
    struct unpacked *z;
    enc_records_resp(&b);
    cr_assert_eq(msg_records_resp_decode(b.data, b.len, &m, &z), 0);
    cr_assert_eq(m.nrecords, NRECORDS);
    for (uint32_t i = 0; i < NRECORDS; i++) {
        assert_bytes(m.records[i].hash_key, records[i].hash_key);
        assert_bytes(m.records[i].sort_key, records[i].sort_key);
        assert_bytes(m.records[i].value, records[i].value);
        cr_assert_eq(m.records[i].expire_ts, records[i].expire_ts);
        cr_assert_eq(m.records[i].timetag, records[i].timetag);
    }
    assert_bytes(m.next_key, (struct bytes)BY("next\0key"));
    msg_records_resp_fini(&m);
    unpacked_free(z);
    buf_reset(&b);
    msg_records_resp_encode(&b, &none);
    cr_assert_eq(msg_records_resp_decode(b.data, b.len, &m, &z), 0);
    cr_assert_eq(m.nrecords, 0);
    cr_assert_eq(m.next_key.len, 0);
    msg_records_resp_fini(&m);
    unpacked_free(z);
    buf_fini(&b);
}

Test(proto, incr_round_trip_negative_delta)
{
    struct buf b = BUF_INIT;
    struct msg_incr_req rq, min = {BY("h"), BY("s"), INT64_MIN, 0};
    struct msg_incr_resp rs;
    struct unpacked *z;
    enc_incr_req(&b);
    cr_assert_eq(msg_incr_req_decode(b.data, b.len, &rq, &z), 0);
    assert_bytes(rq.hash_key, (struct bytes)BY("counter"));
    assert_bytes(rq.sort_key, (struct bytes)BY("\0"));
    cr_assert_eq(rq.delta, -42);
    cr_assert_eq(rq.ttl_s, 60);
    unpacked_free(z);
    buf_reset(&b);
    msg_incr_req_encode(&b, &min);
    cr_assert_eq(msg_incr_req_decode(b.data, b.len, &rq, &z), 0);
    cr_assert_eq(rq.delta, INT64_MIN);
    unpacked_free(z);
    buf_reset(&b);
    enc_incr_resp(&b);
    cr_assert_eq(msg_incr_resp_decode(b.data, b.len, &rs), 0);
    cr_assert_eq(rs.new_value, -9000000000ll);
    /* a delta above INT64_MAX (a uint64 on the wire) does not fit */
    buf_reset(&b);
    {
        struct pk p = {&b};
        pk_tuple(&p, "yyuu", "h", (size_t)1, "s", (size_t)1, (uint64_t)INT64_MAX + 1, (uint64_t)0);
    }
    cr_assert_eq(dec_incr_req(b.data, b.len), ERR_INVALID_DATA);
    buf_fini(&b);
}

Test(proto, cas_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_cas_req rq;
    struct msg_cas_resp rs, none = {false, BY("")};
    struct unpacked *z;
    enc_cas_req(&b);
    cr_assert_eq(msg_cas_req_decode(b.data, b.len, &rq, &z), 0);
    assert_bytes(rq.hash_key, (struct bytes)BY("hk"));
    assert_bytes(rq.check_sort_key, (struct bytes)BY("check\0sk"));
    assert_bytes(rq.check_operand, (struct bytes)BY("old"));
    assert_bytes(rq.set_sort_key, (struct bytes)BY("set-sk"));
    assert_bytes(rq.set_value, (struct bytes)BY("new\0"));
    cr_assert_eq(rq.check_type, CAS_VALUE_EQUAL);
    cr_assert_eq(rq.ttl_s, 30);
    unpacked_free(z);
    buf_reset(&b);
    enc_cas_resp(&b);
    cr_assert_eq(msg_cas_resp_decode(b.data, b.len, &rs, &z), 0);
    cr_assert(rs.check_value_exist);
    assert_bytes(rs.check_value, (struct bytes)BY("cur\0rent"));
    unpacked_free(z);
    buf_reset(&b);
    msg_cas_resp_encode(&b, &none);
    cr_assert_eq(msg_cas_resp_decode(b.data, b.len, &rs, &z), 0);
    cr_assert_not(rs.check_value_exist);
    unpacked_free(z);
    /* check types outside 1..3 are malformed */
    for (uint64_t t = 0; t < 6; t += 4) {
        struct pk p = {&b};
        buf_reset(&b);
        pk_tuple(&p, "yyyyyuu", "h", (size_t)1, "c", (size_t)1, "", (size_t)0, "s", (size_t)1, "v",
                 (size_t)1, t, (uint64_t)0);
        cr_assert_eq(dec_cas_req(b.data, b.len), ERR_INVALID_DATA, "check type %lu",
                     (unsigned long)t);
    }
    buf_fini(&b);
}

Test(proto, checkpoint_and_partition_info_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_checkpoint_resp cp;
    struct msg_partition_info_resp in = {INT64_MAX,      -1, 0,   INT64_MIN, 42, true, 0, NULL,
                                         ROLE_SECONDARY, 0,  NULL};
    struct msg_partition_info_resp pi;
    enc_checkpoint_resp(&b);
    cr_assert_eq(msg_checkpoint_resp_decode(b.data, b.len, &cp), 0);
    cr_assert_eq(cp.decree, 77);
    cr_assert_str_eq(cp.dir, "/data/geokv/3.5/checkpoint.77");
    buf_reset(&b);
    enc_partition_info_resp(&b);
    cr_assert_eq(msg_partition_info_resp_decode(b.data, b.len, &pi), 0);
    cr_assert(pi.ballot == 5 && pi.last_committed == 1000 && pi.last_durable == 990 &&
              pi.plog_first == 1 && pi.plog_last == -1 && pi.deny_write);
    buf_reset(&b);
    msg_partition_info_resp_encode(&b, &in);
    cr_assert_eq(msg_partition_info_resp_decode(b.data, b.len, &pi), 0);
    cr_assert(pi.ballot == INT64_MAX && pi.last_committed == -1 && pi.last_durable == 0 &&
              pi.plog_first == INT64_MIN && pi.plog_last == 42 && pi.deny_write);
    buf_fini(&b);
}

/* dups_complete is an appended field: a group check without it still decodes (false). */
Test(proto, group_check_round_trip_and_old_form)
{
    struct msg_group_check_req in = {.last_committed = 9, .nconfirms = 2, .dups_complete = true};
    struct msg_group_check_req out;
    struct buf b = BUF_INIT;

    snprintf(in.config.primary, sizeof(in.config.primary), "127.0.0.1:1");
    in.config.ballot = 4;
    in.confirms[0] = (struct dup_confirm){.dupid = 11, .confirmed = 7};
    in.confirms[1] = (struct dup_confirm){.dupid = 12, .confirmed = -1};
    msg_group_check_req_encode(&b, &in);
    cr_assert_eq(msg_group_check_req_decode(b.data, b.len, &out), 0);
    cr_assert(out.last_committed == 9 && out.nconfirms == 2 && out.dups_complete);
    cr_assert(out.confirms[1].dupid == 12 && out.confirms[1].confirmed == -1);
    cr_assert_str_eq(out.config.primary, "127.0.0.1:1");

    /* as a server without the field sends it: a 3-element root, no trailing bool */
    cr_assert_eq(b.data[0], 0x94);
    cr_assert_eq(b.data[b.len - 1], 0xc3);
    b.data[0] = 0x93;
    b.len--;
    cr_assert_eq(msg_group_check_req_decode(b.data, b.len, &out), 0);
    cr_assert(out.nconfirms == 2 && !out.dups_complete);
    buf_fini(&b);
}

/* led is an appended field: a reply without it decodes with has_led false. */
Test(proto, dup_sync_resp_round_trip_and_old_form)
{
    struct dup_assign a = {.gpid = 7, .dupid = 9, .status = DS_LOG, .confirmed = 3};
    uint64_t led[2] = {7, 8};
    struct msg_dup_sync_resp in = {1, &a, true, 2, led}, out;
    struct buf b = BUF_INIT;

    snprintf(a.remote, sizeof(a.remote), "tj");
    msg_dup_sync_resp_encode(&b, &in);
    cr_assert_eq(msg_dup_sync_resp_decode(b.data, b.len, &out), 0);
    cr_assert(out.n == 1 && out.dups[0].dupid == 9 && out.dups[0].confirmed == 3);
    cr_assert(out.has_led && out.nled == 2 && out.led[0] == 7 && out.led[1] == 8);
    msg_dup_sync_resp_fini(&out);

    /* as a meta without the field sends it: a 1-element root, no trailing array */
    cr_assert_eq(b.data[0], 0x92);
    cr_assert_eq(b.data[b.len - 3], 0x92); /* fixarray of the two led gpids (1 byte each) */
    b.data[0] = 0x91;
    b.len -= 3;
    cr_assert_eq(msg_dup_sync_resp_decode(b.data, b.len, &out), 0);
    cr_assert(out.n == 1 && !out.has_led && out.nled == 0);
    msg_dup_sync_resp_fini(&out);
    buf_fini(&b);
}

Test(proto, beacon_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_beacon_req rq;
    struct msg_beacon_resp rs, empty = {0, NULL, 0, NULL, -1};
    enc_beacon_req(&b);
    cr_assert_eq(msg_beacon_req_decode(b.data, b.len, &rq), 0);
    cr_assert_str_eq(rq.address, "127.0.0.1:34801");
    cr_assert_eq(rq.nreplicas, 3);
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(rq.replicas[i].gpid, reports[i].gpid);
        cr_assert_eq(rq.replicas[i].ballot, reports[i].ballot);
        cr_assert_eq(rq.replicas[i].last_committed, reports[i].last_committed);
        cr_assert_eq(rq.replicas[i].ready, reports[i].ready);
    }
    msg_beacon_req_fini(&rq);
    buf_reset(&b);
    enc_beacon_resp(&b);
    cr_assert_eq(msg_beacon_resp_decode(b.data, b.len, &rs), 0);
    cr_assert_eq(rs.nassign, 2);
    cr_assert_eq(rs.ndrop, 3);
    cr_assert_eq(rs.lease_ms, 3000);
    for (uint32_t i = 0; i < 2; i++) {
        cr_assert(rs.assign[i].gpid == assigns[i].gpid && rs.assign[i].ballot == assigns[i].ballot);
        cr_assert_str_eq(rs.assign[i].master.cluster, assigns[i].master.cluster);
        cr_assert_str_eq(rs.assign[i].master.metas, assigns[i].master.metas);
    }
    for (uint32_t i = 0; i < 3; i++)
        cr_assert_eq(rs.drop[i], drops[i]);
    msg_beacon_resp_fini(&rs);
    buf_reset(&b);
    msg_beacon_resp_encode(&b, &empty);
    cr_assert_eq(msg_beacon_resp_decode(b.data, b.len, &rs), 0);
    cr_assert(rs.nassign == 0 && rs.ndrop == 0 && rs.lease_ms == -1);
    msg_beacon_resp_fini(&rs);
    buf_fini(&b);
}

Test(proto, redirect_and_app_name_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_redirect r, none = {""};
    struct msg_app_name a;
    struct msg_create_app_req c;
    enc_redirect(&b);
    cr_assert_eq(msg_redirect_decode(b.data, b.len, &r), 0);
    cr_assert_str_eq(r.leader, "127.0.0.1:34601");
    buf_reset(&b);
    msg_redirect_encode(&b, &none);
    cr_assert_eq(msg_redirect_decode(b.data, b.len, &r), 0);
    cr_assert_str_eq(r.leader, "");
    buf_reset(&b);
    enc_app_name(&b);
    cr_assert_eq(msg_app_name_decode(b.data, b.len, &a), 0);
    cr_assert_str_eq(a.name, "geo_table");
    buf_reset(&b);
    enc_create_app_req(&b);
    cr_assert_eq(msg_create_app_req_decode(b.data, b.len, &c), 0);
    cr_assert_str_eq(c.name, "new_table");
    cr_assert_eq(c.partition_count, 16);
    cr_assert_eq(c.replica_count, 3);
    cr_assert_str_eq(c.master.cluster, "bjsrv-account");
    cr_assert_str_eq(c.master.app, "old_table");
    cr_assert_str_eq(c.master.metas, "m:1");
    buf_fini(&b);
}

Test(proto, app_config_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_app_config m, none = {1, "t", 0, 1, APP_CREATING, NULL, false, {"", "", ""}, false};
    enc_app_config(&b);
    cr_assert_eq(msg_app_config_decode(b.data, b.len, &m), 0);
    cr_assert_eq(m.app_id, 7);
    cr_assert_str_eq(m.name, "geo_table");
    cr_assert(m.partition_count == 3 && m.replica_count == 3 && m.status == APP_AVAILABLE);
    cr_assert(m.healthy);
    cr_assert_str_eq(m.master.cluster, "bjsrv-account");
    cr_assert_str_eq(m.master.app, "geo_table");
    cr_assert_str_eq(m.master.metas, "127.0.0.1:34601");
    for (uint32_t i = 0; i < 3; i++) {
        const struct partition_config *got = &m.partitions[i], *want = &parts[i];
        cr_assert_eq(got->pidx, want->pidx);
        cr_assert_eq(got->ballot, want->ballot);
        cr_assert_str_eq(got->primary, want->primary);
        cr_assert_eq(got->nsecondaries, want->nsecondaries);
        for (uint32_t s = 0; s < want->nsecondaries; s++)
            cr_assert_str_eq(got->secondaries[s], want->secondaries[s]);
        cr_assert_eq(got->last_committed, want->last_committed);
    }
    msg_app_config_fini(&m);
    buf_reset(&b);
    msg_app_config_encode(&b, &none);
    cr_assert_eq(msg_app_config_decode(b.data, b.len, &m), 0);
    cr_assert_eq(m.partition_count, 0);
    msg_app_config_fini(&m);
    buf_fini(&b);
}

/*
 * Packs an app config claiming partition_count = claimed, with one partition whose primary is
 * primary and which lists nsec copies of the secondary sec[0..sec_len).
 */
static void
pk_one_partition_config(struct buf *b, uint64_t claimed, const char *name, const char *primary,
                        uint32_t nsec, const char *sec, size_t sec_len)
{
    struct pk p = {b};
    buf_reset(b);
    pk_array(&p, 8);
    pk_uint(&p, 1);
    pk_str(&p, name);
    pk_uint(&p, claimed);
    pk_uint(&p, 3);
    pk_uint(&p, APP_AVAILABLE);
    pk_array(&p, 1);
    pk_array(&p, 5);
    pk_uint(&p, 0);
    pk_int(&p, 1);
    pk_str(&p, primary);
    pk_array(&p, nsec);
    for (uint32_t i = 0; i < nsec; i++)
        pk_strn(&p, sec, sec_len);
    pk_int(&p, 0);
    pk_bool(&p, false);
    pk_tuple(&p, "sss", "", "", "");
}

Test(proto, app_config_rejects_inconsistent_counts)
{
    struct buf b = BUF_INIT;
    pk_one_partition_config(&b, 1, "t", "p:1", 2, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), 0);
    /* partition_count 2 but one partition listed, or 0 */
    pk_one_partition_config(&b, 2, "t", "p:1", 2, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_INVALID_DATA);
    pk_one_partition_config(&b, 0, "t", "p:1", 2, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_INVALID_DATA);
    /* GEOKV_MAX_REPLICAS secondaries fit, one more does not */
    pk_one_partition_config(&b, 1, "t", "p:1", GEOKV_MAX_REPLICAS, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), 0);
    pk_one_partition_config(&b, 1, "t", "p:1", GEOKV_MAX_REPLICAS + 1, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_TOO_LARGE);
    buf_fini(&b);
}

Test(proto, list_apps_and_nodes_round_trip)
{
    struct buf b = BUF_INIT;
    struct msg_list_apps_resp la, noapps = {0, NULL};
    struct msg_list_nodes_resp ln;
    enc_list_apps_resp(&b);
    cr_assert_eq(msg_list_apps_resp_decode(b.data, b.len, &la), 0);
    cr_assert_eq(la.napps, 3);
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(la.apps[i].app_id, apps[i].app_id);
        cr_assert_str_eq(la.apps[i].name, apps[i].name);
        cr_assert_eq(la.apps[i].status, apps[i].status);
        cr_assert_eq(la.apps[i].partition_count, apps[i].partition_count);
        cr_assert_eq(la.apps[i].replica_count, apps[i].replica_count);
        cr_assert_eq(la.apps[i].create_ts, apps[i].create_ts);
    }
    msg_list_apps_resp_fini(&la);
    buf_reset(&b);
    msg_list_apps_resp_encode(&b, &noapps);
    cr_assert_eq(msg_list_apps_resp_decode(b.data, b.len, &la), 0);
    cr_assert_eq(la.napps, 0);
    msg_list_apps_resp_fini(&la);
    buf_reset(&b);
    enc_list_nodes_resp(&b);
    cr_assert_eq(msg_list_nodes_resp_decode(b.data, b.len, &ln), 0);
    cr_assert_str_eq(ln.leader, "127.0.0.1:34601");
    cr_assert_eq(ln.nnodes, 2);
    for (uint32_t i = 0; i < 2; i++) {
        cr_assert_str_eq(ln.nodes[i].address, nodes[i].address);
        cr_assert_eq(ln.nodes[i].state, nodes[i].state);
        cr_assert_eq(ln.nodes[i].primary_count, nodes[i].primary_count);
        cr_assert_eq(ln.nodes[i].secondary_count, nodes[i].secondary_count);
    }
    msg_list_nodes_resp_fini(&ln);
    buf_fini(&b);
}

/* A str too long for its fixed char buffer is ERR_TOO_LARGE; one byte less fits. */
Test(proto, long_strings_too_large)
{
    char s[600];
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    memset(s, 'x', sizeof(s));

    /* checkpoint dir[512] */
    s[512] = '\0';
    pk_tuple(&p, "is", (int64_t)1, s);
    cr_assert_eq(dec_checkpoint_resp(b.data, b.len), ERR_TOO_LARGE);
    s[511] = '\0';
    buf_reset(&b);
    pk_tuple(&p, "is", (int64_t)1, s);
    cr_assert_eq(dec_checkpoint_resp(b.data, b.len), 0);
    memset(s, 'x', sizeof(s));

    /* app name[128]: app_name, create_app, list_apps, app_config */
    s[GEOKV_APP_NAME_MAX] = '\0';
    buf_reset(&b);
    pk_tuple(&p, "s", s);
    cr_assert_eq(dec_app_name(b.data, b.len), ERR_TOO_LARGE);
    buf_reset(&b);
    pk_array(&p, 4);
    pk_str(&p, s);
    pk_uint(&p, 1);
    pk_uint(&p, 1);
    pk_tuple(&p, "sss", "", "", "");
    cr_assert_eq(dec_create_app_req(b.data, b.len), ERR_TOO_LARGE);
    buf_reset(&b); /* a master meta list longer than 1023 bytes */
    pk_array(&p, 4);
    pk_str(&p, "t");
    pk_uint(&p, 1);
    pk_uint(&p, 1);
    pk_array(&p, 3);
    pk_str(&p, "c");
    pk_str(&p, "a");
    {
        char metas[1100];
        memset(metas, 'm', sizeof(metas) - 1);
        metas[sizeof(metas) - 1] = '\0';
        pk_str(&p, metas);
    }
    cr_assert_eq(dec_create_app_req(b.data, b.len), ERR_TOO_LARGE);
    buf_reset(&b);
    pk_array(&p, 1);
    pk_array(&p, 1);
    pk_tuple(&p, "usuuui", (uint64_t)1, s, (uint64_t)1, (uint64_t)1, (uint64_t)1, (int64_t)0);
    cr_assert_eq(dec_list_apps_resp(b.data, b.len), ERR_TOO_LARGE);
    pk_one_partition_config(&b, 1, s, "p:1", 1, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_TOO_LARGE);
    s[GEOKV_APP_NAME_MAX - 1] = '\0';
    buf_reset(&b);
    pk_tuple(&p, "s", s);
    cr_assert_eq(dec_app_name(b.data, b.len), 0);
    memset(s, 'x', sizeof(s));

    /* addresses[64]: redirect, beacon, list_nodes (leader and node), partition config */
    s[GEOKV_ADDR_MAX] = '\0';
    buf_reset(&b);
    pk_tuple(&p, "s", s);
    cr_assert_eq(dec_redirect(b.data, b.len), ERR_TOO_LARGE);
    buf_reset(&b);
    pk_array(&p, 2);
    pk_str(&p, s);
    pk_array(&p, 0);
    cr_assert_eq(dec_beacon_req(b.data, b.len), ERR_TOO_LARGE);
    cr_assert_eq(dec_list_nodes_resp(b.data, b.len), ERR_TOO_LARGE);
    buf_reset(&b);
    pk_array(&p, 2);
    pk_str(&p, "leader:1");
    pk_array(&p, 1);
    pk_tuple(&p, "suuu", s, (uint64_t)1, (uint64_t)0, (uint64_t)0);
    cr_assert_eq(dec_list_nodes_resp(b.data, b.len), ERR_TOO_LARGE);
    pk_one_partition_config(&b, 1, "t", s, 1, "s:1", 3);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_TOO_LARGE);
    pk_one_partition_config(&b, 1, "t", "p:1", 1, s, GEOKV_ADDR_MAX);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_TOO_LARGE);
    pk_one_partition_config(&b, 1, "t", "p:1", 1, s, GEOKV_ADDR_MAX - 1);
    cr_assert_eq(dec_app_config(b.data, b.len), 0);
    s[GEOKV_ADDR_MAX - 1] = '\0';
    buf_reset(&b);
    pk_tuple(&p, "s", s);
    cr_assert_eq(dec_redirect(b.data, b.len), 0);
    buf_fini(&b);
}

/* A NUL inside a str that becomes a C string would silently truncate it. */
Test(proto, nul_in_c_string_rejected)
{
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    pk_array(&p, 1);
    pk_strn(&p, "ta\0ble", 6);
    cr_assert_eq(dec_app_name(b.data, b.len), ERR_INVALID_DATA);
    /* the address of a secondary in a partition config */
    pk_one_partition_config(&b, 1, "t", "p:1", 1, "s:1\0evil", 8);
    cr_assert_eq(dec_app_config(b.data, b.len), ERR_INVALID_DATA);
    buf_fini(&b);
}

Test(proto, mutation_round_trip)
{
    struct buf b = BUF_INIT;
    struct mutation m;
    struct unpacked *z;
    enc_mutation(&b);
    cr_assert_eq(mutation_decode(b.data, b.len, &m, &z), 0);
    buf_fini(&b);
    cr_assert_eq(m.gpid, gpid_make(3, 5));
    cr_assert_eq(m.ballot, 9);
    cr_assert_eq(m.decree, 123456789012ll);
    cr_assert_eq(m.flags, MUTATION_FROM_DUP);
    cr_assert_eq(m.nops, 3);
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(m.ops[i].type, mut_ops[i].type);
        assert_bytes(m.ops[i].hash_key, mut_ops[i].hash_key);
        assert_bytes(m.ops[i].sort_key, mut_ops[i].sort_key);
        assert_bytes(m.ops[i].value, mut_ops[i].value);
        cr_assert_eq(m.ops[i].expire_ts, mut_ops[i].expire_ts);
        cr_assert_eq(m.ops[i].timetag, mut_ops[i].timetag);
    }
    mutation_fini(&m);
    cr_assert_null(m.ops);
    unpacked_free(z);
    enc_mutation_empty(&b);
    cr_assert_eq(mutation_decode(b.data, b.len, &m, &z), 0);
    cr_assert_eq(m.nops, 0);
    cr_assert_eq(m.decree, 1);
    mutation_fini(&m);
    unpacked_free(z);
    buf_fini(&b);
}

Test(proto, mutation_rejects_bad_ops)
{
    static uint8_t big[GEOKV_MAX_HASH_KEY + 1];
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    struct {
        uint64_t type, expire;
        size_t hk_len;
    } bad[] = {{0, 0, 1},
               {3, 0, 1},
               {OP_SET, (uint64_t)UINT32_MAX + 1, 1},
               {OP_SET, 0, GEOKV_MAX_HASH_KEY + 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_reset(&b);
        pk_tuple(&p, "uiiu", (uint64_t)1, (int64_t)1, (int64_t)1, (uint64_t)0);
        b.data[0] += 2; /* six fields: the ops array and last_committed follow */
        pk_array(&p, 2);
        pk_tuple(&p, "uyyyuu", (uint64_t)OP_SET, "h", (size_t)1, "s", (size_t)1, "v", (size_t)1,
                 (uint64_t)0, (uint64_t)1);
        pk_tuple(&p, "uyyyuu", bad[i].type, big, bad[i].hk_len, "s", (size_t)1, "", (size_t)0,
                 bad[i].expire, (uint64_t)1);
        pk_int(&p, 0);
        cr_assert_eq(dec_mutation(b.data, b.len), ERR_INVALID_DATA, "case %zu", i);
    }
    /* flags wider than 32 bits */
    buf_reset(&b);
    pk_tuple(&p, "uiiu", (uint64_t)1, (int64_t)1, (int64_t)1, (uint64_t)1 << 32);
    b.data[0] += 2;
    pk_array(&p, 0);
    pk_int(&p, 0);
    cr_assert_eq(dec_mutation(b.data, b.len), ERR_INVALID_DATA);
    /* the longest hash key is fine, and a nested op may carry extra fields */
    buf_reset(&b);
    pk_tuple(&p, "uiiu", (uint64_t)1, (int64_t)1, (int64_t)1, (uint64_t)0);
    b.data[0] += 2;
    pk_array(&p, 1);
    pk_tuple(&p, "uyyyuus", (uint64_t)OP_DEL, big, (size_t)GEOKV_MAX_HASH_KEY, "s", (size_t)1, "",
             (size_t)0, (uint64_t)0, (uint64_t)1, "future");
    pk_int(&p, 0);
    cr_assert_eq(dec_mutation(b.data, b.len), 0);
    buf_fini(&b);
}

Test(proto, envelope_round_trip)
{
    struct buf b = BUF_INIT;
    struct envelope e;
    struct unpacked *z;
    enc_envelope(&b);
    cr_assert_eq(envelope_decode(b.data, b.len, &e, &z), 0);
    buf_fini(&b);
    cr_assert_eq(e.version, ENVELOPE_VERSION);
    cr_assert_eq(e.code, RPC_GET);
    cr_assert_eq(e.rpc_id, 0xfffffffffull);
    cr_assert_eq(e.gpid, gpid_make(2, 9));
    cr_assert_eq(e.ballot, -3);
    cr_assert_eq(e.error, ERR_NOT_FOUND);
    cr_assert_eq(e.body_len, 5);
    cr_assert(memcmp(e.body, "\x93\x01\xc0\x00\xff", 5) == 0);
    unpacked_free(z);
    cr_assert_str_eq(rpc_code_name(RPC_BEACON), "RPC_BEACON");
    cr_assert_str_eq(rpc_code_name(12345), "RPC_UNKNOWN");
}

/* limit, seq, channel, epoch / key_id, flags: zero in a hand-made envelope */
#define ZERO4 (uint64_t)0, (uint64_t)0, (uint64_t)0, (uint64_t)0
#define ZERO2 (uint64_t)0, (uint64_t)0

Test(proto, envelope_rejects_bad_headers)
{
    struct buf b = BUF_INIT;
    struct envelope e = {.version = ENVELOPE_VERSION + 1, .code = RPC_GET, .rpc_id = 1};
    struct pk p = {&b};
    uint8_t small[8] = {0};
    envelope_encode(&b, &e);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_VERSION);
    /* positive error codes and codes wider than 32 bits are malformed */
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiuuuuuuyy", (uint64_t)ENVELOPE_VERSION, (uint64_t)1, (uint64_t)1,
             (uint64_t)0, (int64_t)0, (int64_t)5, ZERO4, ZERO2, "", (size_t)0, "", (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_INVALID_DATA);
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiuuuuuuyy", (uint64_t)ENVELOPE_VERSION, (uint64_t)1 << 32, (uint64_t)1,
             (uint64_t)0, (int64_t)0, (int64_t)0, ZERO4, ZERO2, "", (size_t)0, "", (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_INVALID_DATA);
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiuuuuuuyy", (uint64_t)ENVELOPE_VERSION, (uint64_t)1, (uint64_t)1,
             (uint64_t)0, (int64_t)0, (int64_t)INT32_MIN - 1, ZERO4, ZERO2, "", (size_t)0, "",
             (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_INVALID_DATA);
    /* flags other than sealed and reply are malformed */
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiuuuuuuyy", (uint64_t)ENVELOPE_VERSION, (uint64_t)1, (uint64_t)1,
             (uint64_t)0, (int64_t)0, (int64_t)0, ZERO4, (uint64_t)0, (uint64_t)4, "", (size_t)0,
             "", (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_INVALID_DATA);
    /* a version 1 envelope (no limit, no seq) is a version error, not garbage */
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiy", (uint64_t)1, (uint64_t)1, (uint64_t)1, (uint64_t)0, (int64_t)0,
             (int64_t)0, "", (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_VERSION);
    /* the right version in the wrong shape is malformed */
    buf_reset(&b);
    pk_tuple(&p, "uuuuiiy", (uint64_t)ENVELOPE_VERSION, (uint64_t)1, (uint64_t)1, (uint64_t)0,
             (int64_t)0, (int64_t)0, "", (size_t)0);
    cr_assert_eq(dec_envelope(b.data, b.len), ERR_INVALID_DATA);
    /* the length limit is checked before anything is read */
    cr_assert_eq(dec_envelope(small, (size_t)GEOKV_MAX_MESSAGE + 1), ERR_TOO_LARGE);
    buf_fini(&b);
}

Test(proto, err_to_wire_maps_everything)
{
    cr_assert_eq(err_to_wire(0), 0);
    cr_assert_eq(err_to_wire(ERR_CHECK_FAILED), ERR_CHECK_FAILED);
    cr_assert_eq(err_to_wire(-ETIMEDOUT), ERR_TIMEOUT);
    cr_assert_eq(err_to_wire(-ECONNRESET), ERR_NETWORK);
    cr_assert_eq(err_to_wire(-ENOSPC), ERR_IO);
    cr_assert_eq(err_to_wire(-EPERM), ERR_INTERNAL);
    cr_assert_eq(err_to_wire(7), ERR_INTERNAL);
    cr_assert_eq(err_to_wire(-29999), ERR_INTERNAL);
}

/* ================= pre-scan ================= */

static int
prescan_copy(const void *b, size_t n)
{
    uint8_t *copy = xmalloc(n);
    int rc;
    memcpy(copy, b, n);
    rc = pack_prescan(copy, n);
    xfree(copy);
    return rc;
}

Test(proto, prescan_rejects_lying_counts)
{
    static const uint8_t map32[7] = {0xdf, 0x10, 0x00, 0x00, 0x00, 0x01, 0x02}; /* 2^28 pairs */
    static const uint8_t arr32[9] = {0xdd, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0, 0xc0, 0xc0};
    static const uint8_t arr16[4] = {0xdc, 0x00, 0x04, 0xc0};
    static const uint8_t fixmap[4] = {0x82, 0x01, 0x02, 0x03};
    struct unpacked *u = (struct unpacked *)1;
    cr_assert_eq(prescan_copy(map32, sizeof(map32)), ERR_INVALID_DATA);
    cr_assert_eq(unpacked_parse(map32, sizeof(map32), &u), ERR_INVALID_DATA);
    cr_assert_null(u);
    cr_assert_eq(prescan_copy(arr32, sizeof(arr32)), ERR_INVALID_DATA);
    cr_assert_eq(prescan_copy(arr16, sizeof(arr16)), ERR_INVALID_DATA);
    cr_assert_eq(prescan_copy(fixmap, sizeof(fixmap)), ERR_INVALID_DATA);
}

Test(proto, prescan_nesting_limit)
{
    uint8_t deep[80];
    struct unpacked *u;
    /* 31 nested arrays: accepted, and msgpack-c unpacks them */
    memset(deep, 0x91, 30);
    deep[30] = 0x90;
    cr_assert_eq(prescan_copy(deep, 31), 0);
    cr_assert_eq(unpacked_parse(deep, 31, &u), 0);
    unpacked_free(u);
    /* 32 nested, the innermost holding a value: whatever the verdict, no crash */
    memset(deep, 0x91, 32);
    deep[32] = 0x01;
    if (unpacked_parse(deep, 33, &u) == 0)
        unpacked_free(u);
    /* 33 nested arrays: rejected */
    memset(deep, 0x91, 32);
    deep[32] = 0x90;
    cr_assert_eq(prescan_copy(deep, 33), ERR_INVALID_DATA);
    /* 33 nested maps (each the value of the one outside it) too; 31 are fine */
    for (int i = 0; i < 32; i++) {
        deep[2 * i] = 0x81;
        deep[2 * i + 1] = 0x01;
    }
    deep[64] = 0x80;
    cr_assert_eq(prescan_copy(deep, 65), ERR_INVALID_DATA);
    cr_assert_eq(prescan_copy(deep + 4, 61), 0);
}

Test(proto, prescan_rejects_truncated_and_bad_bytes)
{
    static const uint8_t str8[] = {0xd9, 0x05, 'a', 'b'};
    static const uint8_t str16[] = {0xda, 0x01, 0x00, 'a'};
    static const uint8_t str32_hdr[] = {0xdb, 0x00, 0x00};
    static const uint8_t fixstr[] = {0xa3, 'a'};
    static const uint8_t bin8[] = {0xc4, 0x10, 0x00};
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    static const uint8_t ext8[] = {0xc7, 0x02, 0x01, 0x00};
    static const uint8_t u64[] = {0xcf, 0x00, 0x00};
    static const uint8_t fixext16[] = {0xd8, 0x01, 0x00};
    static const uint8_t never[] = {0xc1};
    static const uint8_t never_inside[] = {0x92, 0x01, 0xc1};
    static const uint8_t trailing[] = {0x01, 0x02};
    static const uint8_t trailing_arr[] = {0x91, 0x01, 0xc0};
    static const uint8_t ok[] = {0x94, 0xc4, 0x01, 0x00, 0xd4, 0x01, 0x02, 0xca,
                                 0,    0,    0,    0,    0x81, 0xa1, 'k',  0xc3};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {
        {str8, sizeof(str8)},
        {str16, sizeof(str16)},
        {str32_hdr, sizeof(str32_hdr)},
        {fixstr, sizeof(fixstr)},
        {bin8, sizeof(bin8)},
        {bin32, sizeof(bin32)},
        {ext8, sizeof(ext8)},
        {u64, sizeof(u64)},
        {fixext16, sizeof(fixext16)},
        {never, sizeof(never)},
        {never_inside, sizeof(never_inside)},
        {trailing, sizeof(trailing)},
        {trailing_arr, sizeof(trailing_arr)},
    };
    struct unpacked *u;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(prescan_copy(bad[i].p, bad[i].n), ERR_INVALID_DATA, "case %zu", i);
        cr_assert_eq(unpacked_parse(bad[i].p, bad[i].n, &u), ERR_INVALID_DATA, "case %zu", i);
    }
    cr_assert_eq(prescan_copy(ok, sizeof(ok)), 0);
    cr_assert_eq(unpacked_parse(ok, sizeof(ok), &u), 0);
    unpacked_free(u);
}

Test(proto, upk_tuple_types)
{
    struct buf b = BUF_INIT;
    struct pk p = {&b};
    struct unpacked *u;
    uint64_t uv;
    int64_t iv;
    bool bv;
    const uint8_t *d;
    size_t n;
    char s[4];
    struct upk any;
    pk_tuple(&p, "uibyns", (uint64_t)UINT64_MAX, (int64_t)INT64_MIN, 1, "\0b", (size_t)2, "abc");
    cr_assert_eq(unpacked_parse(b.data, b.len, &u), 0);
    cr_assert_eq(upk_tuple(unpacked_root(u), "uibyas", &uv, &iv, &bv, &d, &n, &any, s, sizeof(s)),
                 0);
    cr_assert(uv == UINT64_MAX && iv == INT64_MIN && bv && n == 2 && memcmp(d, "\0b", 2) == 0);
    cr_assert(upk_is_nil(any));
    cr_assert_str_eq(s, "abc");
    /* a uint above INT64_MAX is not an int; a str one byte too long for its buffer */
    cr_assert_eq(upk_tuple(unpacked_root(u), "i", &iv), ERR_INVALID_DATA);
    cr_assert_eq(upk_tuple(unpacked_root(u), "_____s", s, (size_t)3), ERR_TOO_LARGE);
    cr_assert_eq(upk_tuple(unpacked_root(u), "_______"), ERR_INVALID_DATA);
    cr_assert_eq(upk_tuple(unpacked_root(u), "_u", &uv), ERR_INVALID_DATA);
    unpacked_free(u);
    buf_fini(&b);
}

/* Fields after '|' are optional: an older sender's shorter array decodes, the absent fields
 * keep their values, a newer sender's extra fields are ignored; the required ones stay
 * required. */
Test(proto, upk_tuple_optional_trailing_fields)
{
    for (uint64_t len = 1; len <= 4; len++) {
        struct buf b = BUF_INIT;
        struct pk p = {&b};
        struct unpacked *u;
        uint64_t v[3] = {0, 0, 77};
        pk_array(&p, (uint32_t)len);
        for (uint64_t i = 0; i < len; i++)
            pk_uint(&p, 10 + i);
        cr_assert_eq(unpacked_parse(b.data, b.len, &u), 0);
        int rc = upk_tuple(unpacked_root(u), "uu|u", &v[0], &v[1], &v[2]);
        if (len < 2) {
            cr_assert_eq(rc, ERR_INVALID_DATA, "%llu fields", (unsigned long long)len);
        } else {
            cr_assert_eq(rc, 0, "%llu fields", (unsigned long long)len);
            cr_assert(v[0] == 10 && v[1] == 11);
            cr_assert_eq(v[2], len == 2 ? 77 : 12, "the optional field, %llu fields sent",
                         (unsigned long long)len);
        }
        unpacked_free(u);
        buf_fini(&b);
    }
}

/* Regression (fuzz): msgpack-c gives an empty bin a NULL ptr, which reached memchr/memcpy. */
Test(proto, empty_bin_is_never_a_null_slice)
{
    static const uint8_t empty_bin_name[] = {0x91, 0xc4, 0x00};
    static const uint8_t empty_str_name[] = {0x91, 0xa0};
    struct msg_app_name a;
    struct unpacked *u;
    const uint8_t *d = NULL;
    size_t n = 1;
    cr_assert_eq(msg_app_name_decode(empty_bin_name, sizeof(empty_bin_name), &a), 0);
    cr_assert_str_eq(a.name, "");
    cr_assert_eq(msg_app_name_decode(empty_str_name, sizeof(empty_str_name), &a), 0);
    cr_assert_str_eq(a.name, "");
    cr_assert_eq(unpacked_parse(empty_bin_name, sizeof(empty_bin_name), &u), 0);
    cr_assert_eq(upk_tuple(unpacked_root(u), "y", &d, &n), 0);
    cr_assert_not_null(d);
    cr_assert_eq(n, 0);
    unpacked_free(u);
}

/* ================= hashing and timetags ================= */

Test(proto, key_hash_is_pinned)
{
    /* XXH64 seed 0 reference values: these route data; changing them moves every key */
    cr_assert_eq(XXH64("", 0, 0), 0xEF46DB3751D8E999ull);
    cr_assert_eq(XXH64("a", 1, 0), 0xD24EC4F1A98C6E5Bull);
    cr_assert_eq(key_hash64("user1", 5, "ignored", 7), 0x63EDB0950FC8C927ull);
    cr_assert_eq(key_hash64("user1", 5, "ignored", 7), XXH64("user1", 5, 0));
    cr_assert_eq(key_hash64("hello world", 11, NULL, 0), 0x45AB6734B21E6968ull);
    cr_assert_eq(key_hash64("\0\1\2\xff", 4, "", 0), 0xD184D3C63D2708E8ull);
    cr_assert_eq(key_partition("user1", 5, "x", 1, 8), 7);
    cr_assert_eq(key_partition("user1", 5, "y", 1, 1024), 295);
    cr_assert_eq(key_partition("geokv", 5, NULL, 0, 8), 3);
    cr_assert_eq(key_partition("\0\1\2\xff", 4, "", 0, 16), 8);
    for (uint32_t pc = 1; pc < 300; pc += 7)
        cr_assert_lt(key_partition("k", 1, "s", 1, pc), pc);
}

Test(proto, empty_hash_key_routes_by_sort_key)
{
    cr_assert_eq(key_hash64("", 0, "user1", 5), XXH64("user1", 5, 0));
    cr_assert_eq(key_hash64(NULL, 0, "geokv", 5), 0x2F4A431AACA56823ull);
    cr_assert_eq(key_partition("", 0, "hello world", 11, 1024), 360);
    cr_assert_eq(key_hash64("", 0, "", 0), 0xEF46DB3751D8E999ull);
    /* a non-empty hash key ignores the sort key */
    cr_assert_eq(key_hash64("a", 1, "x", 1), key_hash64("a", 1, "y", 1));
    cr_assert_neq(key_hash64("", 0, "x", 1), key_hash64("", 0, "y", 1));
}

Test(proto, timetag_round_trip)
{
    const struct {
        uint64_t ts;
        unsigned cluster;
        int deleted;
    } cases[] = {{0, 1, 0},
                 {1, 127, 1},
                 {1700000000123456ull, 5, 0},
                 {1700000000123456ull, 5, 1},
                 {(1ull << 56) - 1, 64, 1},
                 {42, 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t tt = timetag_make(cases[i].ts, cases[i].cluster, cases[i].deleted);
        cr_assert_eq(timetag_ts(tt), cases[i].ts, "case %zu", i);
        cr_assert_eq(timetag_cluster(tt), cases[i].cluster, "case %zu", i);
        cr_assert_eq(timetag_deleted(tt), cases[i].deleted, "case %zu", i);
    }
    /* later timestamps order first regardless of cluster and delete flag */
    cr_assert_gt(timetag_make(101, 1, 0), timetag_make(100, 127, 1));
    /* the cluster id is masked to 7 bits and cannot spill into the timestamp */
    cr_assert_eq(timetag_ts(timetag_make(9, 0xff, 0)), 9);
    cr_assert_eq(timetag_make(1, 2, 7), timetag_make(1, 2, 1));
    cr_assert_eq(gpid_app(gpid_make(7, 9)), 7);
    cr_assert_eq(gpid_pidx(gpid_make(7, 9)), 9);
}

/* ================= RPC ================= */

/* Echo: the reply body is the request body. arg (if set) counts requests. */
static void
echo_handler(void *arg, struct rpc_request *req)
{
    if (arg != NULL)
        atomic_fetch_add((atomic_int *)arg, 1);
    rpc_reply(req, 0, req->env.body, req->env.body_len);
}

static struct rpc_server *
start_server(const char *addr, rpc_handler_fn *h, void *arg)
{
    struct rpc_server *s;
    cr_assert_eq(rpc_server_create(addr, h, arg, &s), 0, "bind %s", addr);
    rpc_server_start(s);
    return s;
}

/* ---- many async calls ---- */

struct call_slot {
    struct async_state *st;
    char body[96];
    size_t len;
    int err, ncb, order;
};

struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_flight, done, bad;
};

static void
async_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct call_slot *slot = arg;
    struct async_state *st = slot->st;
    pthread_mutex_lock(&st->mu);
    slot->err = err;
    slot->ncb++;
    slot->order = st->done;
    if (err != 0 || len != slot->len || memcmp(body, slot->body, len) != 0)
        st->bad++;
    st->in_flight--;
    st->done++;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* Waits (up to timeout_ms) until pred(st) holds; returns whether it did. */
static bool
async_wait(struct async_state *st, bool (*pred)(struct async_state *, int), int arg, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&st->mu);
    while (!(ok = pred(st, arg)) && clock_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    pthread_mutex_unlock(&st->mu);
    return ok;
}

static bool
below_window(struct async_state *st, int window)
{
    return st->in_flight < window;
}

static bool
done_at_least(struct async_state *st, int n)
{
    return st->done >= n;
}

/*
 * Sends n calls with at most window in flight; checks every reply matched its request.
 * Returns how many calls completed before the call sent just before them.
 */
static int
run_async_calls(struct rpc_client *c, const char *addr, int n, int window, int timeout_ms)
{
    int inversions = 0;
    struct async_state st = {.in_flight = 0};
    struct call_slot *slots = xcalloc((size_t)n, sizeof(*slots));
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    for (int i = 0; i < n; i++) {
        struct call_slot *s = &slots[i];
        s->st = &st;
        s->len = (size_t)snprintf(s->body, sizeof(s->body), "request %d:", i);
        for (int k = 0; k < i % 40; k++)
            s->body[s->len++] = (char)(i * 31 + k); /* binary tail, NULs included */
        cr_assert(async_wait(&st, below_window, window, 10000), "window never opened");
        pthread_mutex_lock(&st.mu);
        st.in_flight++;
        pthread_mutex_unlock(&st.mu);
        /* a code with a small reply limit: the held batches fit a new connection's window */
        rpc_call_async(c, addr, RPC_DIGEST, gpid_make(1, (uint32_t)i), i, s->body, s->len,
                       timeout_ms, async_done, s);
    }
    cr_assert(async_wait(&st, done_at_least, n, 15000), "only %d of %d replies", st.done, n);
    for (int i = 0; i < n; i++)
        cr_assert(slots[i].ncb == 1 && slots[i].err == 0, "call %d: %d callbacks, err %s", i,
                  slots[i].ncb, err_name(slots[i].err));
    cr_assert_eq(st.bad, 0, "%d replies did not match their request", st.bad);
    for (int i = 1; i < n; i++)
        inversions += slots[i].order < slots[i - 1].order;
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
    xfree(slots);
    return inversions;
}

Test(proto, rpc_many_async_calls, .timeout = 20)
{
    char addr[32];
    atomic_int served = 0;
    struct rpc_server *s;
    struct rpc_client *c;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, echo_handler, &served);
    c = rpc_client_create();
    (void)run_async_calls(c, addr, 2000, 64, 10000);
    cr_assert_eq(atomic_load(&served), 2000);
    rpc_client_destroy(c);
    rpc_server_destroy(s);
}

/* ---- replies out of order ---- */

#define HOLD_BATCH 16

struct holder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rpc_request *held[256];
    int nheld, total;
    bool stop;
};

static void
hold_handler(void *arg, struct rpc_request *req)
{
    struct holder *h = arg;
    pthread_mutex_lock(&h->mu);
    cr_assert_lt(h->nheld, 256);
    h->held[h->nheld++] = req;
    h->total++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Replies to every HOLD_BATCH held requests in reverse order of arrival. */
static void *
reverse_replier(void *arg)
{
    struct holder *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->nheld < HOLD_BATCH)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        for (int i = h->nheld - 1; i >= 0; i--) {
            struct rpc_request *req = h->held[i];
            rpc_reply(req, 0, req->env.body, req->env.body_len);
        }
        h->nheld = 0;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void
holder_init(struct holder *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
}

/* Answers whatever is still held (so every request is freed) and tears down. */
static void
holder_fini(struct holder *h)
{
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->nheld; i++)
        rpc_reply(h->held[i], ERR_SHUTDOWN, NULL, 0);
    h->nheld = 0;
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
}

static bool
holder_has(struct holder *h, int n, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&h->mu);
    while (!(ok = h->total >= n) && clock_mono_ms() < deadline) {
        pthread_mutex_unlock(&h->mu);
        clock_sleep_ms(1);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

Test(proto, rpc_out_of_order_replies, .timeout = 20)
{
    char addr[32];
    struct holder h;
    pthread_t replier;
    struct rpc_server *s;
    struct rpc_client *c;
    holder_init(&h);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, hold_handler, &h);
    cr_assert_eq(pthread_create(&replier, NULL, reverse_replier, &h), 0);
    c = rpc_client_create();
    /* a window of exactly one batch: each batch is held whole, then answered backwards */
    cr_assert_geq(run_async_calls(c, addr, 8 * HOLD_BATCH, HOLD_BATCH, 10000), 8 * (HOLD_BATCH - 1),
                  "replies were not delivered out of order");
    pthread_mutex_lock(&h.mu);
    h.stop = true;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(replier, NULL);
    rpc_client_destroy(c);
    rpc_server_destroy(s);
    holder_fini(&h);
}

/* ---- timeouts and dead peers ---- */

Test(proto, rpc_timeout_when_server_silent, .timeout = 20)
{
    char addr[32];
    struct holder h;
    struct rpc_server *s;
    struct rpc_client *c;
    holder_init(&h);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, hold_handler, &h);
    c = rpc_client_create();
    for (int i = 0; i < 3; i++) {
        int timeout = 100 + 150 * i;
        int64_t t0 = clock_mono_ms(), el;
        int rc = rpc_call(c, addr, RPC_PARTITION_INFO, 0, 0, "x", 1, timeout, NULL);
        el = clock_mono_ms() - t0;
        cr_assert_eq(rc, ERR_TIMEOUT, "got %s", err_name(rc));
        cr_assert_geq(el, timeout - 1, "timed out early: %ld ms", (long)el);
        cr_assert_leq(el, timeout + 200, "timed out late: %ld ms for %d", (long)el, timeout);
    }
    cr_assert(holder_has(&h, 3, 2000), "server saw %d requests", h.total);
    rpc_client_destroy(c);
    holder_fini(&h); /* answers the held requests before the server goes */
    rpc_server_destroy(s);
}

Test(proto, rpc_nobody_listening, .timeout = 20)
{
    char addr[32];
    struct rpc_client *c = rpc_client_create();
    struct buf reply = BUF_INIT;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    for (int i = 0; i < 2; i++) {
        int64_t t0 = clock_mono_ms(), el;
        int rc = rpc_call(c, addr, RPC_GET, 0, 0, "x", 1, 300, &reply);
        el = clock_mono_ms() - t0;
        cr_assert(rc == ERR_TIMEOUT || rc == ERR_NETWORK, "got %s", err_name(rc));
        cr_assert_eq(reply.len, 0);
        cr_assert_leq(el, 1500, "call took %ld ms", (long)el);
        cr_log_info("call to a closed port: %s after %ld ms", err_name(rc), (long)el);
    }
    rpc_client_destroy(c);
}

Test(proto, rpc_address_too_long_fails_at_once, .timeout = 20)
{
    char addr[GEOKV_ADDR_MAX + 10];
    struct rpc_client *c = rpc_client_create();
    memset(addr, '1', sizeof(addr) - 1);
    addr[sizeof(addr) - 1] = '\0';
    cr_assert_neq(rpc_call(c, addr, RPC_GET, 0, 0, NULL, 0, 1000, NULL), 0);
    rpc_client_destroy(c);
}

/* ---- bad input to the server ---- */

static void
tcp_send_raw(int port, const void *p, size_t n)
{
    struct sockaddr_in a;
    struct timeval tv = {0, 200000};
    char sink[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)send(fd, p, n, MSG_NOSIGNAL);
    /* read until the server hangs up or 200 ms of silence */
    while (read(fd, sink, sizeof(sink)) > 0)
        ;
    close(fd);
}

Test(proto, rpc_server_survives_garbage, .timeout = 20)
{
    char addr[32];
    uint8_t junk[4096];
    /* SP handshake of a REQ peer (protocol 0x30), then frames */
    static const uint8_t sp_req[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
    static const uint8_t huge_frame[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t framed[8 + 8 + 64];
    atomic_int served = 0;
    int port = free_port();
    struct rpc_server *s;
    struct rpc_client *c;
    unsigned seed = 12345;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    s = start_server(addr, echo_handler, &served);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(rand_r(&seed) >> 7);
    tcp_send_raw(port, junk, sizeof(junk));
    tcp_send_raw(port, junk, 3);
    memcpy(framed, sp_req, 8);
    memcpy(framed + 8, huge_frame, 8);
    tcp_send_raw(port, framed, 16);
    /* a well-framed message whose body is random (no valid request id, no envelope) */
    memcpy(framed + 8, "\0\0\0\0\0\0\0\x40", 8);
    memcpy(framed + 16, junk, 64);
    tcp_send_raw(port, framed, sizeof(framed));
    /* a well-framed message with a valid request id and a random body */
    framed[16] = 0x80;
    tcp_send_raw(port, framed, sizeof(framed));

    c = rpc_client_create();
    {
        struct buf reply = BUF_INIT;
        cr_assert_eq(rpc_call(c, addr, RPC_GET, 0, 0, "still here", 10, 5000, &reply), 0);
        cr_assert(reply.len == 10 && memcmp(reply.data, "still here", 10) == 0);
        buf_fini(&reply);
    }
    rpc_client_destroy(c);
    rpc_server_destroy(s);
}

/* A cooked REQ socket sends body; returns the decoded reply's error (and code). */
static int
cooked_exchange(const char *addr, const void *body, size_t len, uint32_t *code)
{
    char url[64];
    int sock = nn_socket(AF_SP, NN_REQ), rcvto = 5000, n, err;
    void *reply = NULL;
    struct envelope e;
    struct unpacked *z;
    cr_assert_geq(sock, 0);
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &rcvto, sizeof(rcvto));
    snprintf(url, sizeof(url), "tcp://%s", addr);
    cr_assert_geq(nn_connect(sock, url), 0);
    cr_assert_eq(nn_send(sock, body, len, 0), (int)len);
    n = nn_recv(sock, &reply, NN_MSG, 0);
    cr_assert_geq(n, 0, "no reply: %s", nn_strerror(nn_errno()));
    cr_assert_eq(envelope_decode(reply, (size_t)n, &e, &z), 0);
    err = e.error;
    *code = e.code;
    unpacked_free(z);
    nn_freemsg(reply);
    nn_close(sock);
    return err;
}

Test(proto, rpc_bad_body_gets_invalid_data_reply, .timeout = 20)
{
    char addr[32];
    atomic_int served = 0;
    struct rpc_server *s;
    struct rpc_client *c;
    struct buf b = BUF_INIT;
    struct envelope v2 = {.version = ENVELOPE_VERSION + 1,
                          .code = RPC_GET,
                          .rpc_id = 1,
                          .body = (const uint8_t *)"x",
                          .body_len = 1};
    static const uint8_t lying_map[7] = {0xdf, 0x10, 0x00, 0x00, 0x00, 0x01, 0x02};
    uint32_t code;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, echo_handler, &served);
    cr_assert_eq(cooked_exchange(addr, "\xc1 not msgpack at all", 20, &code), ERR_INVALID_DATA);
    cr_assert_eq(code, RPC_ERROR_REPLY);
    cr_assert_eq(cooked_exchange(addr, lying_map, sizeof(lying_map), &code), ERR_INVALID_DATA);
    cr_assert_eq(cooked_exchange(addr, "\x93\x02\x02\x03", 4, &code), ERR_INVALID_DATA);
    envelope_encode(&b, &v2);
    cr_assert_eq(cooked_exchange(addr, b.data, b.len, &code), ERR_VERSION);
    buf_fini(&b);
    cr_assert_eq(atomic_load(&served), 0, "a bad request reached the handler");
    /* and the server keeps serving */
    c = rpc_client_create();
    cr_assert_eq(rpc_call(c, addr, RPC_GET, 0, 0, "ok", 2, 5000, NULL), 0);
    rpc_client_destroy(c);
    rpc_server_destroy(s);
}

/* ---- restart and shutdown ---- */

Test(proto, rpc_reconnects_after_server_restart, .timeout = 20)
{
    char addr[32];
    atomic_int served1 = 0, served2 = 0;
    struct rpc_server *s;
    struct rpc_client *c = rpc_client_create();
    int64_t deadline;
    int rc, attempts = 0;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, echo_handler, &served1);
    cr_assert_eq(rpc_call(c, addr, RPC_GET, 0, 0, "one", 3, 5000, NULL), 0);
    rpc_server_destroy(s);
    /* bind again on the same port (poll: the old listener may linger for a moment) */
    deadline = clock_mono_ms() + 5000;
    while ((rc = rpc_server_create(addr, echo_handler, &served2, &s)) != 0 &&
           clock_mono_ms() < deadline)
        clock_sleep_ms(20);
    cr_assert_eq(rc, 0, "could not bind %s again", addr);
    rpc_server_start(s);
    deadline = clock_mono_ms() + 10000;
    do {
        rc = rpc_call(c, addr, RPC_GET, 0, 0, "two", 3, 250, NULL);
        attempts++;
    } while (rc != 0 && clock_mono_ms() < deadline);
    cr_assert_eq(rc, 0, "no reply after restart: %s", err_name(rc));
    cr_log_info("reconnected after %d attempt(s)", attempts);
    cr_assert_geq(atomic_load(&served2), 1);
    /* and stays usable */
    (void)run_async_calls(c, addr, 200, 32, 5000);
    rpc_client_destroy(c);
    rpc_server_destroy(s);
}

Test(proto, rpc_client_destroy_fails_pending, .timeout = 20)
{
    char addr[32];
    struct holder h;
    struct rpc_server *s;
    struct rpc_client *c;
    struct async_state st = {.in_flight = 0};
    struct call_slot slots[10];
    holder_init(&h);
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = start_server(addr, hold_handler, &h);
    c = rpc_client_create();
    memset(slots, 0, sizeof(slots));
    for (int i = 0; i < 10; i++) {
        slots[i].st = &st;
        slots[i].len = 1;
        slots[i].body[0] = 'p';
        rpc_call_async(c, addr, RPC_PARTITION_INFO, 0, 0, "p", 1, 15000, async_done, &slots[i]);
    }
    /* every request reached the server, so all ten are pending */
    cr_assert(holder_has(&h, 10, 5000), "server saw %d requests", h.total);
    cr_assert_eq(st.done, 0);
    rpc_client_destroy(c);
    cr_assert_eq(st.done, 10);
    for (int i = 0; i < 10; i++)
        cr_assert(slots[i].ncb == 1 && slots[i].err == ERR_SHUTDOWN, "call %d: %d cbs, %s", i,
                  slots[i].ncb, err_name(slots[i].err));
    holder_fini(&h);
    rpc_server_destroy(s);
    pthread_mutex_destroy(&st.mu);
    pthread_cond_destroy(&st.cv);
}
