/*
 * libFuzzer target: every wire decoder on arbitrary bytes (bad input must fail cleanly).
 *
 * The input goes to envelope_decode, then to every message's decoder (the generated msg_wire
 * table) and mutation_decode; when
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "proto/auth.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/mutation.h"
#include "proto/pack.h"

#include "proto/msg_wire.inc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fails the run if two encodings differ. */
static void
same_bytes(const struct buf *a, const struct buf *b)
{
    if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

/* Round trip of a message: e1 = encode(decode(b)); e1 must decode and re-encode to e1. */
static void
trip_message(size_t w, const uint8_t *b, size_t n)
{
    struct buf e1 = BUF_INIT, e2 = BUF_INIT;
    if (msg_wire[w].trip(b, n, &e1) == 0) {
        if (msg_wire[w].trip(e1.data, e1.len, &e2) != 0)
            abort();
        same_bytes(&e1, &e2);
    }
    buf_fini(&e1);
    buf_fini(&e2);
}

/* The same for the mutation and the envelope (their decoders borrow from a zone). */
#define TRIP_ZONE(NAME, FINI)                                                                      \
    static void trip_##NAME(const uint8_t *b, size_t n)                                            \
    {                                                                                              \
        struct NAME m, m2;                                                                         \
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

TRIP_ZONE(mutation, mutation_fini)
TRIP_ZONE(envelope, NO_FINI)

static void
all_messages(const uint8_t *b, size_t n)
{
    for (size_t w = 0; w < sizeof(msg_wire) / sizeof(msg_wire[0]); w++)
        trip_message(w, b, n);
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
