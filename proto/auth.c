/* auth.c: the keyring, HMAC-SHA256 signatures and AES-256-GCM sealing (auth.h). */
#include "proto/auth.h"

#include <ctype.h>
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define AUTH_MAX_KEYS 16
#define AUTH_KEY_BYTES 32
#define GCM_NONCE 12
#define GCM_TAG 16

struct auth_key {
    uint32_t id;
    uint8_t mac_key[AUTH_KEY_BYTES];
    uint8_t seal_key[AUTH_KEY_BYTES]; /* HMAC(mac_key, "geokv seal"): a key per purpose */
};

struct keyring {
    struct auth_key keys[AUTH_MAX_KEYS];
    int nkeys;
    uint32_t sign_id;
    bool require_clients, seal_remote;
};

/* Published whole; replaced keyrings are kept (readers may hold them), one per reload. */
static _Atomic(const struct keyring *) current;

static const struct keyring empty;

static const struct keyring *
ring(void)
{
    const struct keyring *k = atomic_load_explicit(&current, memory_order_acquire);
    return k ? k : &empty;
}

/* HMAC-SHA256 of len bytes of msg under key into out. Each thread keeps a context keyed for
 * the last two (keyring, key) pairs it used: keying one costs 5x the MAC of a small message. */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;

static void
hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ASSERT(hmac_alg != NULL);
}

static void
hmac(const struct keyring *ring, const struct auth_key *key, const uint8_t *msg, size_t len,
     uint8_t out[AUTH_MAC_BYTES])
{
    static __thread struct {
        const struct keyring *ring;
        uint32_t id;
        EVP_MAC_CTX *ctx;
    } cache[2];
    static __thread int next;
    EVP_MAC_CTX *ctx = NULL;
    size_t n = 0;
    for (int i = 0; i < 2 && ctx == NULL; i++)
        if (cache[i].ring == ring && cache[i].id == key->id)
            ctx = cache[i].ctx;
    if (ctx == NULL) {
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                               OSSL_PARAM_construct_end()};
        pthread_once(&hmac_once, hmac_fetch);
        EVP_MAC_CTX_free(cache[next].ctx);
        ctx = EVP_MAC_CTX_new(hmac_alg);
        ASSERT(ctx != NULL && EVP_MAC_init(ctx, key->mac_key, AUTH_KEY_BYTES, params) == 1);
        cache[next].ring = ring;
        cache[next].id = key->id;
        cache[next].ctx = ctx;
        next ^= 1;
    }
    ASSERT(EVP_MAC_init(ctx, NULL, 0, NULL) == 1 && EVP_MAC_update(ctx, msg, len) == 1 &&
           EVP_MAC_final(ctx, out, &n, AUTH_MAC_BYTES) == 1 && n == AUTH_MAC_BYTES);
}

static const struct auth_key *
key_by_id(const struct keyring *k, uint32_t id)
{
    for (int i = 0; i < k->nkeys; i++)
        if (k->keys[i].id == id)
            return &k->keys[i];
    return NULL;
}

static int
hexval(int c)
{
    return isdigit(c)                               ? c - '0'
           : tolower(c) >= 'a' && tolower(c) <= 'f' ? tolower(c) - 'a' + 10
                                                    : -1;
}

/* Parses "ID:HEX64" (spaces around allowed) into k; false if malformed. */
static bool
parse_key(const char *s, size_t n, struct auth_key *k)
{
    char *end;
    unsigned long id;
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || !isdigit((unsigned char)*s))
        return false;
    id = strtoul(s, &end, 10);
    if (*end != ':' || id == 0 || id > UINT32_MAX ||
        n - (size_t)(end + 1 - s) != 2 * AUTH_KEY_BYTES)
        return false;
    for (int i = 0; i < AUTH_KEY_BYTES; i++) {
        int hi = hexval((unsigned char)end[1 + 2 * i]), lo = hexval((unsigned char)end[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        k->mac_key[i] = (uint8_t)(hi << 4 | lo);
    }
    k->id = (uint32_t)id;
    ASSERT(HMAC(EVP_sha256(), k->mac_key, AUTH_KEY_BYTES, (const uint8_t *)"geokv seal", 10,
                k->seal_key, NULL) != NULL);
    return true;
}

int
auth_configure(const struct config *cfg)
{
    struct keyring *k = xcalloc(1, sizeof(*k));
    const char *keys = config_get_str(cfg, "security", "keys", "");
    int64_t sign = 0;
    int rc = config_get_int(cfg, "security", "sign_key", 0, &sign);
    if (rc == 0)
        rc = config_get_bool(cfg, "security", "require_client_auth", false, &k->require_clients);
    if (rc == 0)
        rc = config_get_bool(cfg, "security", "seal_remote", false, &k->seal_remote);
    for (const char *p = keys; rc == 0 && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct auth_key key;
        if (k->nkeys == AUTH_MAX_KEYS) {
            LOG_ERROR("[security] keys: more than %d keys", AUTH_MAX_KEYS);
            rc = ERR_CONFIG;
        } else if (!parse_key(p, n, &key)) { /* never log the text: it holds a secret */
            LOG_ERROR("[security] keys: entry %d is not ID:64-hex-digits", k->nkeys + 1);
            rc = ERR_CONFIG;
        } else if (key_by_id(k, key.id) != NULL) {
            LOG_ERROR("[security] keys: key id %u appears twice", key.id);
            rc = ERR_CONFIG;
        } else {
            k->keys[k->nkeys++] = key;
            k->sign_id = key.id;
        }
        p += n + (comma != NULL);
    }
    if (rc == 0 && sign == 0 && k->nkeys > 1) {
        /* adding a key must not change the signing one: peers may not have it yet */
        LOG_ERROR("[security] sign_key must name the key to sign with when there are several");
        rc = ERR_CONFIG;
    }
    if (rc == 0 && sign != 0) {
        k->sign_id = (uint32_t)sign;
        if (sign < 0 || sign > UINT32_MAX || key_by_id(k, (uint32_t)sign) == NULL) {
            LOG_ERROR("[security] sign_key %lld names no key of [security] keys", (long long)sign);
            rc = ERR_CONFIG;
        }
    }
    if (rc != 0) {
        OPENSSL_cleanse(k, sizeof(*k));
        xfree(k);
        return ERR_CONFIG;
    }
    if (k->nkeys == 0 && (k->require_clients || k->seal_remote)) {
        LOG_ERROR("[security] require_client_auth and seal_remote need keys");
        xfree(k);
        return ERR_CONFIG;
    }
    atomic_store_explicit(&current, k, memory_order_release);
    if (k->nkeys == 0)
        LOG_WARN("[security] has no keys: messages between servers are not authenticated");
    else
        LOG_INFO("[security]: %d key(s), signing with key %u%s%s", k->nkeys, k->sign_id,
                 k->require_clients ? ", clients must sign" : "",
                 k->seal_remote ? ", sealing calls between clusters" : "");
    return 0;
}

int
auth_load(const char *path, const char *const *sets, int nsets)
{
    struct config *cfg;
    char err[512] = "";
    int rc = config_load(path, &cfg, err, sizeof(err));
    if (rc != 0) {
        LOG_ERROR("cannot read [security] from %s: %s", path, err);
        return ERR_CONFIG;
    }
    for (int i = 0; i < nsets && rc == 0; i++)
        rc = config_override(cfg, sets[i]);
    if (rc == 0)
        rc = auth_configure(cfg);
    if (rc != 0)
        LOG_ERROR("[security] of %s not used: the keys in use stay", path);
    config_destroy(cfg);
    return rc;
}

bool
auth_enabled(void)
{
    return ring()->nkeys > 0;
}

bool
auth_require_clients(void)
{
    return ring()->require_clients;
}

bool
auth_seal_remote(void)
{
    return ring()->seal_remote;
}

uint32_t
auth_sign_key(void)
{
    return ring()->sign_id;
}

int
auth_sign(struct buf *msg, uint32_t key_id)
{
    const struct keyring *r = ring();
    const struct auth_key *k = key_by_id(r, key_id);
    if (k == NULL)
        return ERR_AUTH;
    ASSERT(msg->len >= AUTH_MAC_BYTES + 2);
    hmac(r, k, msg->data, msg->len - AUTH_MAC_BYTES - 2, msg->data + msg->len - AUTH_MAC_BYTES);
    return 0;
}

int
auth_verify(const uint8_t *msg, size_t len, uint32_t key_id, const uint8_t *mac, size_t mac_len)
{
    const struct keyring *r = ring();
    const struct auth_key *k = key_by_id(r, key_id);
    uint8_t want[AUTH_MAC_BYTES];
    /* the MAC must be the message's last bytes, a bin 8 of 32: it covers all before it */
    if (k == NULL || mac_len != AUTH_MAC_BYTES || len < AUTH_MAC_BYTES + 2 ||
        msg[len - AUTH_MAC_BYTES - 2] != 0xc4 || msg[len - AUTH_MAC_BYTES - 1] != AUTH_MAC_BYTES ||
        memcmp(mac, msg + len - AUTH_MAC_BYTES, AUTH_MAC_BYTES) != 0)
        return ERR_AUTH;
    hmac(r, k, msg, len - AUTH_MAC_BYTES - 2, want);
    return CRYPTO_memcmp(want, mac, AUTH_MAC_BYTES) == 0 ? 0 : ERR_AUTH;
}

/* One AES-256-GCM pass (enc = 1 seals, 0 opens). Returns 1 on success. */
static int
gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *in, size_t len, uint8_t *out,
    uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok = ctx != NULL && len <= INT32_MAX &&
                    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
                    (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) == 1) &&
                    (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
                    EVP_CipherFinal_ex(ctx, out + n, &n) == 1 &&
                    (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int
auth_seal(uint32_t key_id, const uint8_t *plain, size_t len, struct buf *out)
{
    const struct auth_key *k = key_by_id(ring(), key_id);
    size_t at = out->len;
    uint8_t *p;
    if (k == NULL)
        return ERR_AUTH;
    buf_reserve(out, GCM_NONCE + len + GCM_TAG);
    p = out->data + at;
    if (RAND_bytes(p, GCM_NONCE) != 1 ||
        !gcm(1, k->seal_key, p, plain, len, p + GCM_NONCE, p + GCM_NONCE + len))
        return ERR_INTERNAL;
    out->len = at + GCM_NONCE + len + GCM_TAG;
    return 0;
}

int
auth_open(uint32_t key_id, const uint8_t *sealed, size_t len, struct buf *out)
{
    const struct auth_key *k = key_by_id(ring(), key_id);
    uint8_t tag[GCM_TAG];
    size_t at = out->len, n = len - GCM_NONCE - GCM_TAG;
    if (k == NULL || len < GCM_NONCE + GCM_TAG)
        return ERR_AUTH;
    memcpy(tag, sealed + len - GCM_TAG, GCM_TAG);
    buf_reserve(out, n + 1);
    if (!gcm(0, k->seal_key, sealed, sealed + GCM_NONCE, n, out->data + at, tag))
        return ERR_AUTH;
    out->len = at + n;
    return 0;
}
