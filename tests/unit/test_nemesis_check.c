/*
 * test_nemesis_check.c: the checker of geokv-nemesis (tests/nemesis/tool/nemesis_check.c) on
 * synthetic histories and dumps. Every bad final state is checked next to a good one of the
 * same history, so each test shows the checker telling them apart.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/nemesis/tool/nemesis_check.h"

/* What one check found, and the text it printed (free with checked_fini). */
struct checked {
    struct nemesis_check_result res;
    char *out;
};

/* Checks history against dump1 (and dump2 if not NULL). */
static struct checked
check(bool same_clock, const char *history, const char *dump1, const char *dump2)
{
    struct checked r = {0};
    struct nemesis_check *c = nemesis_check_create(same_clock);
    size_t len = 0, bad_line;
    FILE *out = open_memstream(&r.out, &len);

    cr_assert_not_null(out);
    cr_assert_eq(nemesis_check_add_history(c, history, strlen(history), &bad_line), 0,
                 "history line %zu", bad_line);
    cr_assert_eq(nemesis_check_add_dump(c, "d1", dump1, strlen(dump1), &bad_line), 0);
    if (dump2 != NULL)
        cr_assert_eq(nemesis_check_add_dump(c, "d2", dump2, strlen(dump2), &bad_line), 0);
    cr_assert_eq(nemesis_check_run(c, out, &r.res), 0);
    fclose(out);
    nemesis_check_destroy(c);
    return r;
}

static void
checked_fini(struct checked *r)
{
    free(r->out);
}

/* The check passes: no violation, equal dumps, some ok op. */
static void
expect_pass(bool same_clock, const char *history, const char *dump)
{
    struct checked r = check(same_clock, history, dump, NULL);

    cr_assert(r.res.passed, "expected a pass, got:\n%s", r.out);
    cr_assert_eq(r.res.violations, 0);
    checked_fini(&r);
}

/* The check finds exactly one violation, of kind k, and prints it with text in it. */
static void
expect_violation(bool same_clock, const char *history, const char *dump, enum nemesis_violation k,
                 const char *text)
{
    struct checked r = check(same_clock, history, dump, NULL);

    cr_assert_not(r.res.passed, "expected a violation, got:\n%s", r.out);
    cr_assert_eq(r.res.violations, 1, "%s", r.out);
    cr_assert_eq(r.res.by_kind[k], 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, text), "'%s' not in:\n%s", text, r.out);
    checked_fini(&r);
}

/* One of each kind of op, all on their own keys; DUMP_OK is the one legal final state. */
#define HISTORY_ALL                                                                                \
    "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"                                                       \
    "set w 0 2 120 130 ok w-7-0-0 s w/0/2\n"                                                       \
    "del w 0 3 140 150 ok w-7-0-1 s\n"                                                             \
    "cas w 0 4 160 170 ok w-7-0-2 s - w/0/4\n"                                                     \
    "cas w 0 5 180 190 fail w-7-0-2 s w/0/9 w/0/5\n"                                               \
    "multi_set w 0 6 200 210 ok w-7-0-m0 a=w/0/6/a b=w/0/6/b c=w/0/6/c\n"                          \
    "incr w 0 7 220 230 ok w-7-0-c0 n 1 1\n"                                                       \
    "incr w 0 8 240 250 ok w-7-0-c0 n 1 2\n"                                                       \
    "get w 0 9 260 270 ok w-7-0-0 s w/0/2\n"
#define DUMP_OK                                                                                    \
    "w-7-0-0\ts\tw/0/2\t0\n"                                                                       \
    "w-7-0-2\ts\tw/0/4\t0\n"                                                                       \
    "w-7-0-c0\tn\t2\t0\n"                                                                          \
    "w-7-0-m0\ta\tw/0/6/a\t0\n"                                                                    \
    "w-7-0-m0\tb\tw/0/6/b\t0\n"                                                                    \
    "w-7-0-m0\tc\tw/0/6/c\t0\n"                                                                    \
    "someone-else\tk\tv\t0\n"

Test(nemesis_check, accepts_correct_final_state)
{
    struct checked r = check(false, HISTORY_ALL, DUMP_OK, NULL);

    cr_assert(r.res.passed, "%s", r.out);
    cr_assert_eq(r.res.violations, 0);
    cr_assert_eq(r.res.keys_checked, 7);
    cr_assert_eq(r.res.ok_ops, 8);
    cr_assert_eq(r.res.foreign_records, 1);
    cr_assert(r.res.dumps_equal);
    cr_assert_not_null(strstr(r.out, "violations: 0\n"));
    cr_assert_not_null(strstr(r.out, "dumps_equal: yes\n"));
    checked_fini(&r);
}

Test(nemesis_check, parses_escaped_dump_fields)
{
    /* w/0/2 with its slashes written as \x2f; a foreign key with a tab and a backslash */
    expect_pass(false, "set w 0 1 100 110 ok w-7-0-0 s w/0/2\n",
                "w-7-0-0\ts\tw\\x2f0\\x2f2\t0\nx\\x09y\\\\\ts\tv\t0\n");
    expect_violation(false, "set w 0 1 100 110 ok w-7-0-0 s w/0/2\n",
                     "w-7-0-0\ts\tw\\x2f0\\x2f3\t0\n", NEMESIS_V_NEVER_WRITTEN, "'w/0/3'");
}

Test(nemesis_check, accepts_effect_of_later_unknown_op)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"
                    "set w 0 2 120 130 unknown w-7-0-0 s w/0/2\n"
                    "del w 0 3 140 150 unknown w-7-0-0 s\n"
                    "incr w 0 4 160 170 ok w-7-0-c0 n 1 1\n"
                    "incr w 0 5 180 190 unknown w-7-0-c0 n 1 -\n";

    expect_pass(false, h, "w-7-0-0\ts\tw/0/1\t0\nw-7-0-c0\tn\t1\t0\n");
    expect_pass(false, h, "w-7-0-0\ts\tw/0/2\t0\nw-7-0-c0\tn\t2\t0\n");
    expect_pass(false, h, "w-7-0-c0\tn\t2\t0\n");
    /* an unknown op before the last ok one is no excuse */
    expect_violation(false,
                     "set w 0 1 100 110 unknown w-7-0-0 s w/0/1\n"
                     "set w 0 2 120 130 ok w-7-0-0 s w/0/2\n",
                     "w-7-0-0\ts\tw/0/1\t0\n", NEMESIS_V_LOST, "d1: w-7-0-0/s is 'w/0/1'");
}

Test(nemesis_check, flags_lost_acked_set)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"
                    "set w 0 2 120 130 ok w-7-0-0 s w/0/2\n";

    expect_pass(false, h, "w-7-0-0\ts\tw/0/2\t0\n");
    expect_violation(false, h, "w-7-0-0\ts\tw/0/1\t0\n", NEMESIS_V_LOST,
                     "VIOLATION: lost acknowledged write: d1: w-7-0-0/s is 'w/0/1'; legal: "
                     "'w/0/2' (seq 2)");
    expect_violation(false, h, "", NEMESIS_V_LOST, "w-7-0-0/s is absent");
}

Test(nemesis_check, flags_lost_acked_del)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"
                    "del w 0 2 120 130 ok w-7-0-0 s\n";

    expect_pass(false, h, "");
    expect_violation(false, h, "w-7-0-0\ts\tw/0/1\t0\n", NEMESIS_V_LOST,
                     "w-7-0-0/s is 'w/0/1'; legal: absent (seq 2)");
}

Test(nemesis_check, flags_phantom_values_and_records)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n";

    expect_violation(false, h, "w-7-0-0\ts\tw/0/77\t0\n", NEMESIS_V_NEVER_WRITTEN,
                     "never written: d1: w-7-0-0/s is 'w/0/77'");
    /* a record of our patterns that no history wrote; one of another pattern is foreign */
    expect_violation(false, h, "w-7-0-0\ts\tw/0/1\t0\nw-7-3-5\ts\tw/3/1\t0\n",
                     NEMESIS_V_NEVER_WRITTEN, "'w-7-3-5'/'s' is 'w/3/1', a key no history");
    expect_pass(false, h, "w-7-0-0\ts\tw/0/1\t0\nw-7-3\ts\tw/3/1\t0\n");
    /* a cas that failed left nothing */
    expect_violation(false,
                     "cas w 0 1 100 110 fail w-7-0-0 s w/0/0 w/0/1\n"
                     "get w 0 2 120 130 ok w-7-0-0 s -\n",
                     "w-7-0-0\ts\tw/0/1\t0\n", NEMESIS_V_NEVER_WRITTEN, "legal: absent");
}

Test(nemesis_check, flags_multi_set_from_two_ops)
{
    const char *h = "multi_set w 0 1 100 110 ok w-7-0-m0 a=w/0/1/a b=w/0/1/b c=w/0/1/c\n"
                    "multi_set w 0 2 120 130 unknown w-7-0-m0 a=w/0/2/a b=w/0/2/b c=w/0/2/c\n";

    expect_pass(false, h,
                "w-7-0-m0\ta\tw/0/1/a\t0\nw-7-0-m0\tb\tw/0/1/b\t0\n"
                "w-7-0-m0\tc\tw/0/1/c\t0\n");
    expect_pass(false, h,
                "w-7-0-m0\ta\tw/0/2/a\t0\nw-7-0-m0\tb\tw/0/2/b\t0\n"
                "w-7-0-m0\tc\tw/0/2/c\t0\n");
    expect_violation(false, h,
                     "w-7-0-m0\ta\tw/0/2/a\t0\nw-7-0-m0\tb\tw/0/1/b\t0\n"
                     "w-7-0-m0\tc\tw/0/1/c\t0\n",
                     NEMESIS_V_NOT_ATOMIC, "a from seq 2 b from seq 1 c from seq 1");
}

Test(nemesis_check, flags_doubled_sort_key_resolved_to_first_value)
{
    const char *h = "multi_set w 0 1 100 110 ok w-7-0-m0 a=w/0/1/a1 b=w/0/1/b c=w/0/1/c "
                    "a=w/0/1/a2\n";

    expect_pass(false, h,
                "w-7-0-m0\ta\tw/0/1/a2\t0\nw-7-0-m0\tb\tw/0/1/b\t0\n"
                "w-7-0-m0\tc\tw/0/1/c\t0\n");
    expect_violation(false, h,
                     "w-7-0-m0\ta\tw/0/1/a1\t0\nw-7-0-m0\tb\tw/0/1/b\t0\n"
                     "w-7-0-m0\tc\tw/0/1/c\t0\n",
                     NEMESIS_V_NEVER_WRITTEN, "the value a doubled sort key had first");
}

Test(nemesis_check, flags_incr_applied_twice)
{
    const char *h = "incr w 0 1 100 110 ok w-7-0-c0 n 1 1\n"
                    "incr w 0 2 120 130 unknown w-7-0-c0 n 1 -\n"
                    "incr w 0 3 140 150 ok w-7-0-c0 n 1 3\n";

    expect_pass(false, h, "w-7-0-c0\tn\t3\t0\n");
    expect_violation(false, h, "w-7-0-c0\tn\t4\t0\n", NEMESIS_V_COUNTER,
                     "w-7-0-c0/n is '4'; legal: [2, 3]");
    /* an ok incr that returned more than the ops before it could have made */
    expect_violation(false,
                     "incr w 0 1 100 110 ok w-7-0-c0 n 1 1\n"
                     "incr w 0 2 140 150 ok w-7-0-c0 n 1 3\n",
                     "w-7-0-c0\tn\t2\t0\n", NEMESIS_V_COUNTER, "incr seq 2 returned 3");
}

Test(nemesis_check, flags_incr_lost)
{
    const char *h = "incr w 0 1 100 110 ok w-7-0-c0 n 1 1\n"
                    "incr w 0 2 120 130 ok w-7-0-c0 n 1 2\n"
                    "incr w 0 3 140 150 ok w-7-0-c0 n 1 3\n";

    expect_pass(false, h, "w-7-0-c0\tn\t3\t0\n");
    expect_violation(false, h, "w-7-0-c0\tn\t2\t0\n", NEMESIS_V_COUNTER, "legal: [3, 3]");
    expect_violation(false, h, "", NEMESIS_V_COUNTER, "w-7-0-c0/n is absent");
    /* results that do not increase: one incr's effect was lost in between */
    expect_violation(false,
                     "incr w 0 1 100 110 ok w-7-0-c0 n 1 1\n"
                     "incr w 0 2 120 130 unknown w-7-0-c0 n 1 -\n"
                     "incr w 0 3 140 150 ok w-7-0-c0 n 1 3\n"
                     "incr w 0 4 160 170 ok w-7-0-c0 n 1 3\n",
                     "w-7-0-c0\tn\t4\t0\n", NEMESIS_V_COUNTER, "incr seq 4 returned 3");
}

Test(nemesis_check, flags_shared_winner_too_old_with_same_clock)
{
    /* b's write began after a's was acknowledged, so a's cannot carry the largest timetag
     * on one clock; c's (outcome unknown) completed late enough to */
    const char *h = "set a 0 1 100 200 ok shared-7-0 s a/0/1\n"
                    "set c 0 1 150 500 unknown shared-7-0 s c/0/1\n"
                    "set b 0 1 300 400 ok shared-7-0 s b/0/1\n";

    expect_pass(true, h, "shared-7-0\ts\tb/0/1\t0\n");
    expect_pass(true, h, "shared-7-0\ts\tc/0/1\t0\n");
    expect_pass(false, h, "shared-7-0\ts\ta/0/1\t0\n");
    expect_violation(true, h, "shared-7-0\ts\ta/0/1\t0\n", NEMESIS_V_STALE_WINNER,
                     "shared-7-0/s is 'a/0/1'");
    expect_violation(false, h, "", NEMESIS_V_LOST, "shared-7-0/s is absent");
}

Test(nemesis_check, flags_dumps_that_differ)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"
                    "set w 0 2 120 130 unknown w-7-0-0 s w/0/2\n";
    struct checked r = check(false, h, "w-7-0-0\ts\tw/0/1\t0\n", "w-7-0-0\ts\tw/0/1\t0\n");

    cr_assert(r.res.passed, "%s", r.out);
    checked_fini(&r);
    /* each dump is a legal final state, but not the same one */
    r = check(false, h, "w-7-0-0\ts\tw/0/1\t0\nx\ts\tv\t0\n", "w-7-0-0\ts\tw/0/2\t0\n");
    cr_assert_eq(r.res.violations, 0, "%s", r.out);
    cr_assert_not(r.res.dumps_equal);
    cr_assert_not(r.res.passed);
    cr_assert_not_null(strstr(r.out, "DIFF: 'w-7-0-0'/'s': d1: 'w/0/1', d2: 'w/0/2'\n"), "%s",
                       r.out);
    cr_assert_not_null(strstr(r.out, "DIFF: 'x'/'s': d1: 'v', d2: absent\n"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "dumps_equal: no\n"));
    checked_fini(&r);
}

Test(nemesis_check, fails_a_history_with_zero_ok_ops)
{
    struct checked r = check(false,
                             "set w 0 1 100 110 unknown w-7-0-0 s w/0/1\n"
                             "get w 0 2 120 130 unknown w-7-0-0 s -\n",
                             "w-7-0-0\ts\tw/0/1\t0\n", NULL);

    cr_assert_eq(r.res.violations, 0, "%s", r.out);
    cr_assert_eq(r.res.ok_ops, 0);
    cr_assert_not(r.res.passed);
    cr_assert_not_null(strstr(r.out, "zero successful operations"));
    checked_fini(&r);
}

Test(nemesis_check, rejects_malformed_input)
{
    struct nemesis_check *c = nemesis_check_create(false);
    size_t bad_line;
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n"
                    "set w 0 2 120 130 maybe w-7-0-0 s w/0/2\n";
    const char *wrong_key = "incr w 0 1 100 110 ok w-7-0-0 n 1 1\n";
    const char *bad_escape = "w-7-0-0\ts\tw/0/1\t0\nw-7-0-1\ts\tw\\q\t0\n";

    cr_assert_eq(nemesis_check_add_history(c, h, strlen(h), &bad_line), ERR_INVALID_DATA);
    cr_assert_eq(bad_line, 2);
    cr_assert_eq(nemesis_check_add_history(c, wrong_key, strlen(wrong_key), &bad_line),
                 ERR_INVALID_DATA);
    cr_assert_eq(bad_line, 1);
    cr_assert_eq(nemesis_check_add_dump(c, "d", bad_escape, strlen(bad_escape), &bad_line),
                 ERR_INVALID_DATA);
    cr_assert_eq(bad_line, 2);
    nemesis_check_destroy(c);
}

Test(nemesis_check, rejects_two_histories_of_one_writer)
{
    const char *h = "set w 0 1 100 110 ok w-7-0-0 s w/0/1\n";
    FILE *out = fopen("/dev/null", "w");

    for (int copies = 1; copies <= 2; copies++) {
        struct nemesis_check *c = nemesis_check_create(false);
        struct nemesis_check_result res;
        size_t bad_line;
        for (int i = 0; i < copies; i++)
            cr_assert_eq(nemesis_check_add_history(c, h, strlen(h), &bad_line), 0);
        cr_assert_eq(nemesis_check_run(c, out, &res), copies == 1 ? 0 : ERR_INVALID_DATA);
        nemesis_check_destroy(c);
    }
    fclose(out);
}

Test(nemesis_check, tokens_and_prefixes)
{
    cr_assert(nemesis_token_is_valid("w-1-0-m3/x_y.z"));
    cr_assert_not(nemesis_token_is_valid(""));
    cr_assert_not(nemesis_token_is_valid("a b"));
    cr_assert_not(nemesis_token_is_valid("a=b"));
    cr_assert(nemesis_prefix_is_valid("run_2.a"));
    cr_assert_not(nemesis_prefix_is_valid("a-b"));
    cr_assert_not(nemesis_prefix_is_valid("a/b"));
    cr_assert_str_eq(nemesis_op_name(NEMESIS_MULTI_SET), "multi_set");
    cr_assert_str_eq(nemesis_outcome_name(NEMESIS_UNKNOWN), "unknown");
}
