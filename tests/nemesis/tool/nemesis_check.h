#pragma once
/*
 * nemesis_check: the offline checker of geokv-nemesis, as a library so it can be unit tested
 * without a cluster. It reads the histories `geokv-nemesis run` wrote and the dumps
 * `admin-cli dump APP` printed, computes for every key the histories wrote the set of legal
 * final states, and checks every dump against it (and the dumps against each other).
 *
 * History line (text, one per completed op, fields separated by one space):
 *   <op> <prefix> <thread> <seq> <invoke_us> <complete_us> <outcome> <hash_key> <fields...>
 * op is a nemesis_op_name, outcome a nemesis_outcome_name, invoke/complete CLOCK_REALTIME
 * microseconds around the call. Fields: set `<sort_key> <value>`; del `<sort_key>`;
 * multi_set `<sort_key>=<value>` pairs in call order; incr `<sort_key> <delta> <result or ->`;
 * cas `<sort_key> <expected or -> <new_value>`; get `<sort_key> <value, - if absent, ? if not
 * a value of ours>`. Keys and values are nemesis_token_is_valid.
 *
 * Keys (S = --seed, t = thread, j = key index, P = --prefix, which has no '-'):
 *   plain "P-S-t-j"/"s" (set, del, cas, get), multi "P-S-t-mj"/"a","b","c" (multi_set),
 *   counter "P-S-t-cj"/"n" (incr by 1), shared "shared-S-j"/"s" (set, by every writer).
 * Every key but the shared ones has a single writer, whose ops are ordered by seq.
 *
 * Not thread-safe: one thread uses a checker.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

enum nemesis_op {
    NEMESIS_SET,
    NEMESIS_DEL,
    NEMESIS_MULTI_SET,
    NEMESIS_INCR,
    NEMESIS_CAS,
    NEMESIS_GET,
    NEMESIS_OP_COUNT
};

enum nemesis_outcome {
    NEMESIS_OK,      /* applied */
    NEMESIS_FAIL,    /* definitely not applied */
    NEMESIS_UNKNOWN, /* may or may not have been applied */
    NEMESIS_OUTCOME_COUNT
};

enum nemesis_violation {
    NEMESIS_V_LOST,          /* an acknowledged write is not in the final state */
    NEMESIS_V_NEVER_WRITTEN, /* a value or record that no op left there */
    NEMESIS_V_NOT_ATOMIC,    /* the sort keys of a multi key come from different multi_sets */
    NEMESIS_V_COUNTER,       /* an increment lost or applied twice */
    NEMESIS_V_STALE_WINNER,  /* shared key: the final write cannot carry the largest timetag */
    NEMESIS_V_COUNT
};

/* "set", "del", "multi_set", "incr", "cas", "get" (static strings). */
const char *nemesis_op_name(enum nemesis_op op);
/* "ok", "fail", "unknown". */
const char *nemesis_outcome_name(enum nemesis_outcome oc);
/* True if s is a non-empty string of [A-Za-z0-9/_.-], the only bytes keys and values of the
 * histories contain. */
bool nemesis_token_is_valid(const char *s);
/* True if s can be a --prefix: a non-empty string of [A-Za-z0-9_.] (no '-', which separates
 * the parts of a key, and no '/', which separates those of a value). */
bool nemesis_prefix_is_valid(const char *s);

struct nemesis_check;

struct nemesis_check_result {
    uint64_t keys_checked; /* distinct (hash_key, sort_key) the histories wrote */
    uint64_t ok_ops;       /* ops with outcome ok in the histories */
    uint64_t violations;   /* all of them, also those past the printed ones */
    uint64_t by_kind[NEMESIS_V_COUNT];
    uint64_t foreign_records; /* dump records not of our key patterns, summed over the dumps */
    bool dumps_equal;         /* every dump has the same records and values as the first */
    bool passed;              /* no violation, dumps equal and ok_ops > 0 */
};

/* same_clock: every writer and server ran on one clock, so a shared key's final write can be
 * narrowed down by time (see nemesis_check_run). Free with nemesis_check_destroy. */
struct nemesis_check *nemesis_check_create(bool same_clock);
void nemesis_check_destroy(struct nemesis_check *c);

/*
 * Adds the lines of one history (text[0..len), copied). ERR_INVALID_DATA on a malformed line
 * (an unknown op or outcome, a bad token, an op that does not fit its key's kind), with
 * *bad_line its 1-based number; lines before it stay added.
 */
MUST_CHECK int nemesis_check_add_history(struct nemesis_check *c, const char *text, size_t len,
                                         size_t *bad_line);
/*
 * Adds one dump: admin-cli dump output, one record per line, "hash_key TAB sort_key TAB value
 * TAB expire_ts" with admin_escape'd fields (text copied; name, copied, names the dump in
 * messages). ERR_INVALID_DATA on a malformed line or escape, with *bad_line its number.
 */
MUST_CHECK int nemesis_check_add_dump(struct nemesis_check *c, const char *name, const char *text,
                                      size_t len, size_t *bad_line);

/*
 * Checks every dump; prints each violation as a "VIOLATION: " line (the first 50), the first
 * 20 differences between dumps as "DIFF: " lines, then "name: value" lines (keys_checked,
 * ok_ops, violations, foreign_records, dumps_equal) to out, and fills *res. Call once.
 *   single-writer keys: legal finals are the effect of the last ok write (absent for a del;
 *     absent if there is none) and of every later unknown one; cas and multi_set count as
 *     writes, a multi_set's effect on a doubled sort key is its last value.
 *   multi keys: the sort keys must all come from one multi_set, or all be absent.
 *   counters: with a ok and u unknown incrs, a <= final <= a + u (absent only if a == 0); the
 *     k-th ok incr returned a value in [k, k + unknown incrs before it], strictly increasing.
 *   shared keys: any ok or unknown write may be final (with same_clock only those that
 *     completed after the latest invoke of an ok write); absent only if no write is ok.
 *   records of our key patterns that no history wrote are violations; others are foreign.
 * ERR_INVALID_DATA (printed) if two ops of a single-writer key have the same seq: two
 * histories with the same --prefix and --seed.
 */
MUST_CHECK int nemesis_check_run(struct nemesis_check *c, FILE *out,
                                 struct nemesis_check_result *res);
