/*
 * libFuzzer target: every wire decoder on arbitrary bytes (bad input must fail cleanly).
 *
 * The input goes to envelope_decode, then to every msg_*_decode and mutation_decode; when
 * the envelope decodes, its body goes through them too, and a signed one through
 * auth_verify (and auth_open if it is sealed) under the key of the corpus's signed seeds. Besides "never crash, never leak"
 * (ASan/UBSan/LeakSanitizer), each message that decodes must survive a second trip:
 * e1 = encode(decode(input)) must decode again and re-encode to exactly e1.
 *
 * Build: CC=clang cmake -DGEOKV_FUZZ=ON ...; run: fuzz_decode tests/fuzz/corpus (see
 * tests/fuzz/CMakeLists.txt).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "proto/auth.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/mutation.h"
#include "proto/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fails the run if two encodings differ. */
static void
same_bytes(const struct buf *a, const struct buf *b)
{
    if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

/*
 * Round trip for a message decoded without a zone: T m; decode(in) == 0 -> e1 = encode(m);
 * decode(e1) must succeed and re-encode to e1. FINI frees the message's arrays.
 */
#define TRIP_NOZONE(T, NAME, FINI)                                                                 \
    static void trip_##NAME(const uint8_t *b, size_t n)                                            \
    {                                                                                              \
        struct T m, m2;                                                                            \
        struct buf e1 = BUF_INIT, e2 = BUF_INIT;                                                   \
        if (NAME##_decode(b, n, &m) != 0)                                                          \
            return;                                                                                \
        NAME##_encode(&e1, &m);                                                                    \
        FINI(&m);                                                                                  \
        if (NAME##_decode(e1.data, e1.len, &m2) != 0)                                              \
            abort();                                                                               \
        NAME##_encode(&e2, &m2);                                                                   \
        FINI(&m2);                                                                                 \
        same_bytes(&e1, &e2);                                                                      \
        buf_fini(&e1);                                                                             \
        buf_fini(&e2);                                                                             \
    }

/* The same for decoders whose slices borrow from a zone. */
#define TRIP_ZONE(T, NAME, FINI)                                                                   \
    static void trip_##NAME(const uint8_t *b, size_t n)                                            \
    {                                                                                              \
        struct T m, m2;                                                                            \
        struct unpacked *z = NULL, *z2 = NULL;                                                     \
        struct buf e1 = BUF_INIT, e2 = BUF_INIT;                                                   \
        if (NAME##_decode(b, n, &m, &z) != 0) {                                                    \
            if (z != NULL)                                                                         \
                abort();                                                                           \
            return;                                                                                \
        }                                                                                          \
        NAME##_encode(&e1, &m);                                                                    \
        FINI(&m);                                                                                  \
        unpacked_free(z);                                                                          \
        if (NAME##_decode(e1.data, e1.len, &m2, &z2) != 0)                                         \
            abort();                                                                               \
        NAME##_encode(&e2, &m2);                                                                   \
        FINI(&m2);                                                                                 \
        unpacked_free(z2);                                                                         \
        same_bytes(&e1, &e2);                                                                      \
        buf_fini(&e1);                                                                             \
        buf_fini(&e2);                                                                             \
    }

#define NO_FINI(m) ((void)(m))

TRIP_ZONE(msg_write_req, msg_write_req, msg_write_req_fini)
TRIP_NOZONE(msg_write_resp, msg_write_resp, NO_FINI)
TRIP_ZONE(msg_get_req, msg_get_req, NO_FINI)
TRIP_ZONE(msg_get_resp, msg_get_resp, NO_FINI)
TRIP_ZONE(msg_multi_get_req, msg_multi_get_req, msg_multi_get_req_fini)
TRIP_ZONE(msg_scan_req, msg_scan_req, NO_FINI)
TRIP_ZONE(msg_records_resp, msg_records_resp, msg_records_resp_fini)
TRIP_ZONE(msg_incr_req, msg_incr_req, NO_FINI)
TRIP_NOZONE(msg_incr_resp, msg_incr_resp, NO_FINI)
TRIP_ZONE(msg_cas_req, msg_cas_req, NO_FINI)
TRIP_ZONE(msg_cas_resp, msg_cas_resp, NO_FINI)
TRIP_NOZONE(msg_checkpoint_resp, msg_checkpoint_resp, NO_FINI)
TRIP_NOZONE(msg_partition_info_resp, msg_partition_info_resp, NO_FINI)
TRIP_NOZONE(msg_beacon_req, msg_beacon_req, msg_beacon_req_fini)
TRIP_NOZONE(msg_beacon_resp, msg_beacon_resp, msg_beacon_resp_fini)
TRIP_NOZONE(msg_redirect, msg_redirect, NO_FINI)
TRIP_NOZONE(msg_app_name, msg_app_name, NO_FINI)
TRIP_NOZONE(msg_app_config, msg_app_config, msg_app_config_fini)
TRIP_NOZONE(msg_create_app_req, msg_create_app_req, NO_FINI)
TRIP_NOZONE(msg_list_apps_resp, msg_list_apps_resp, msg_list_apps_resp_fini)
TRIP_NOZONE(msg_list_nodes_resp, msg_list_nodes_resp, msg_list_nodes_resp_fini)
TRIP_ZONE(mutation, mutation, mutation_fini)
TRIP_ZONE(envelope, envelope, NO_FINI)

static void
all_messages(const uint8_t *b, size_t n)
{
    trip_msg_write_req(b, n);
    trip_msg_write_resp(b, n);
    trip_msg_get_req(b, n);
    trip_msg_get_resp(b, n);
    trip_msg_multi_get_req(b, n);
    trip_msg_scan_req(b, n);
    trip_msg_records_resp(b, n);
    trip_msg_incr_req(b, n);
    trip_msg_incr_resp(b, n);
    trip_msg_cas_req(b, n);
    trip_msg_cas_resp(b, n);
    trip_msg_checkpoint_resp(b, n);
    trip_msg_partition_info_resp(b, n);
    trip_msg_beacon_req(b, n);
    trip_msg_beacon_resp(b, n);
    trip_msg_redirect(b, n);
    trip_msg_app_name(b, n);
    trip_msg_app_config(b, n);
    trip_msg_create_app_req(b, n);
    trip_msg_list_apps_resp(b, n);
    trip_msg_list_nodes_resp(b, n);
    trip_mutation(b, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool keyed;
    struct envelope e;
    struct unpacked *z = NULL;
    if (!keyed) { /* the key the signed seeds of the corpus were made with */
        struct config *cfg;
        char err[64];
        if (config_load(NULL, &cfg, err, sizeof(err)) != 0)
            abort();
        config_set(cfg, "security", "keys",
                   "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        if (auth_configure(cfg) != 0)
            abort();
        config_destroy(cfg);
        keyed = true;
    }
    trip_envelope(data, size);
    all_messages(data, size);
    if (envelope_decode(data, size, &e, &z) == 0) {
        struct buf plain = BUF_INIT;
        all_messages(e.body, e.body_len);
        /* a signature is checked, and a sealed body opened, only when it verifies */
        if (e.key_id != 0 && auth_verify(data, size, e.key_id, e.mac, e.mac_len) == 0 &&
            (e.flags & ENVELOPE_SEALED) && auth_open(e.key_id, e.body, e.body_len, &plain) == 0)
            all_messages(plain.data, plain.len);
        buf_fini(&plain);
        unpacked_free(z);
    }
    return 0;
}
