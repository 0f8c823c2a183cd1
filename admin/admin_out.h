#pragma once
/*
 * admin-cli's output layer: the failure lines every command ends with, and a small JSON
 * writer on stdout for --json (and for the human `dup list`, which has always been JSON).
 *
 * With --json each command prints one JSON object on one line: a json_key at the top level
 * opens it, so a command only writes its fields, and admin_run closes it (out_cmd_end). A
 * command may instead write whole top-level objects itself (dump: one per record); each ends
 * with a newline. out_fail / out_usage print the human line on stderr and, with --json, add
 * "error" to the command's object (closing any array left open first, so a scan cut short
 * still parses), or print {"error": ...} alone if nothing was written yet.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"

void out_set_json(bool on);
bool out_json(void);
/* Indented output (2 spaces, "key": value), for the human `dup list`. */
void out_set_pretty(bool on);

/* Closes whatever the command left open, flushes stdout; returns r. */
enum admin_result out_cmd_end(enum admin_result r);

/* "error: <fmt>" on stderr, {"error": "<fmt>"} with --json; returns ADMIN_FAIL. */
enum admin_result out_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "usage: <fmt>" on stderr, {"error": "usage: <fmt>"} with --json; returns ADMIN_FAIL. */
enum admin_result out_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The JSON part alone (for main's option errors, whose human lines getopt and usage() print). */
void out_json_error(const char *msg);

void json_begin_object(void);
void json_begin_array(void);
void json_end(void); /* of the innermost object or array */
void json_key(const char *k);
/* Text (names, addresses, reasons): escaped; a byte that is not UTF-8 becomes U+FFFD. */
void json_str(const char *s);
/* Stored bytes (keys, values): a string if they are UTF-8 without control characters, else
 * {"base64": "..."} (RFC 4648, padded), so every byte string round-trips. */
void json_bytes(const void *p, size_t n);
void json_int(int64_t v);
void json_uint(uint64_t v);
void json_bool(bool v);
void json_null(void);
/* A key and its value; json_kv_str(k, NULL) writes null. */
void json_kv_str(const char *k, const char *s);
void json_kv_int(const char *k, int64_t v);
void json_kv_bool(const char *k, bool v);
