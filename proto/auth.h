#pragma once
/*
 * auth.h: signing, verifying and sealing messages (proto/rpc.c uses it for every message).
 *
 * Keys come from the [security] section, by id, so a key can be rotated with no downtime:
 *
 *   [security]
 *   keys = 1:<64 hex digits>, 2:<64 hex digits>   ; every key a message may be signed with
 *   sign_key = 2                 ; the one this process signs with (needed with several)
 *   require_client_auth = false  ; data calls (get, set, ...) must be signed too
 *   seal_remote = false          ; encrypt the bodies of calls between clusters
 *
 * A process with keys signs every message it sends: HMAC-SHA256 under the signing key over
 * the whole envelope but its last field, the 32-byte MAC. A receiver accepts a message
 * signed with any key of its own keyring. Rotation: add the new key to every process (the
 * servers reload [security] on SIGHUP), then make it the signing key everywhere, then drop
 * the old one. Sealing encrypts a body with AES-256-GCM under a key derived from the signing
 * key (nonce 12 random bytes, then the ciphertext, then the 16-byte tag); the MAC then
 * covers the ciphertext.
 *
 * The keyring is process-wide and replaced whole by auth_configure; readers never see a
 * half-built one. Threads: any.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define AUTH_MAC_BYTES 32

struct config;

/* Reads [security] and makes it the process's keyring (the previous one stays valid for
 * readers that hold it). ERR_CONFIG with a LOG_ERROR naming the problem if a key is not
 * "ID:64 hex digits", an id repeats, or sign_key names no key. */
MUST_CHECK int auth_configure(const struct config *cfg);

/* Reads path (with the "section.key=value" overrides in sets) and configures from its
 * [security]: the servers on SIGHUP, the tools for -c. On any error the keyring in use
 * stays, with a LOG_ERROR. */
int auth_load(const char *path, const char *const *sets, int nsets);

/* Whether this process has keys (then it signs everything and checks every reply). */
bool auth_enabled(void);
/* [security] require_client_auth. */
bool auth_require_clients(void);
/* [security] seal_remote (and keys are set). */
bool auth_seal_remote(void);
/* The signing key's id, or 0 without keys. */
uint32_t auth_sign_key(void);

/* Signs msg, an envelope encoded with key_id and a MAC of AUTH_MAC_BYTES zero bytes as its
 * last field: computes the MAC and writes it over them. ERR_AUTH if the keyring (reloaded
 * meanwhile) no longer has key_id. */
MUST_CHECK int auth_sign(struct buf *msg, uint32_t key_id);
/* Checks the MAC of msg (len bytes, decoded into an envelope whose key id is key_id and whose
 * MAC field is mac/mac_len, which must be msg's last bytes). ERR_AUTH if the key is unknown,
 * the MAC missing or wrong. */
MUST_CHECK int auth_verify(const uint8_t *msg, size_t len, uint32_t key_id, const uint8_t *mac,
                           size_t mac_len);

/* Encrypts len bytes of plain under key key_id, appending nonce, ciphertext and tag to out. */
MUST_CHECK int auth_seal(uint32_t key_id, const uint8_t *plain, size_t len, struct buf *out);
/* Decrypts a sealed body, appending the plaintext to out. ERR_AUTH if the key is unknown or
 * the body was altered. */
MUST_CHECK int auth_open(uint32_t key_id, const uint8_t *sealed, size_t len, struct buf *out);
