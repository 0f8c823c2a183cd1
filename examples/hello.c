/*
 * hello.c: a program outside the geokv tree that uses libgeokv. It writes a record, reads it
 * back, counts with incr and scans the hash key.
 *
 *     cc hello.c $(pkg-config --cflags --libs geokv) -o hello
 *     ./hello 127.0.0.1:34601 mytable
 */
#include <geokv.h>
#include <stdio.h>
#include <stdlib.h>

static int
print_record(void *arg, const struct geokv_record *r)
{
    (void)arg;
    printf("  %.*s = %.*s\n", (int)r->sort_key.len, (const char *)r->sort_key.data,
           (int)r->value.len, (const char *)r->value.data);
    return 0;
}

static int
check(const char *what, int err)
{
    if (err != 0)
        fprintf(stderr, "%s: %s\n", what, geokv_strerror(err));
    return err;
}

int
main(int argc, char **argv)
{
    struct geokv_client *c;
    struct geokv_table *t;
    void *value = NULL;
    size_t len = 0;
    int64_t visits = 0;
    int err;

    if (argc != 3) {
        fprintf(stderr, "usage: %s META_SERVERS TABLE\n", argv[0]);
        return 2;
    }
    printf("libgeokv %s\n", geokv_version());
    if (check("connect", geokv_client_create(argv[1], NULL, &c)) != 0)
        return 1;
    err = check("open", geokv_open(c, argv[2], 5000, &t));
    if (err == 0)
        err = check("set", geokv_set(t, geokv_str("alice"), geokv_str("greeting"),
                                     geokv_str("hello, world"), 0, 5000));
    if (err == 0)
        err = check("get", geokv_get(t, geokv_str("alice"), geokv_str("greeting"), &value, &len,
                                     NULL, 5000));
    if (err == 0)
        printf("alice/greeting = %.*s\n", (int)len, (const char *)value);
    free(value);
    if (err == 0)
        err = check("incr",
                    geokv_incr(t, geokv_str("alice"), geokv_str("visits"), 1, 0, &visits, 5000));
    if (err == 0)
        printf("alice/visits = %lld\n", (long long)visits);
    if (err == 0) {
        printf("alice:\n");
        err = check("scan", geokv_scan(t, geokv_str("alice"), geokv_bytes(NULL, 0),
                                       geokv_bytes(NULL, 0), print_record, NULL, 5000));
    }
    geokv_client_destroy(c);
    return err == 0 ? 0 : 1;
}
