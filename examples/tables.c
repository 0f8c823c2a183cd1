/*
 * tables.c: a program outside the geokv tree that manages tables with libgeokv. It creates a
 * table unless it exists, lists the cluster's tables and the table's duplications. Admin calls
 * are signed: CONFIG is an INI file whose [security] section holds the cluster's keys.
 *
 *     cc tables.c $(pkg-config --cflags --libs geokv) -o tables
 *     ./tables 127.0.0.1:34601 mytable /etc/geokv/client.ini
 */
#include <geokv_admin.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
    struct geokv_client *c;
    struct geokv_table_info *tables;
    struct geokv_dup *dups;
    size_t ntables, ndups;
    char why[256];
    int err;

    struct geokv_options opts = {0};

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s META_LIST TABLE [CONFIG]\n", argv[0]);
        return 2;
    }
    opts.config = argc == 4 ? argv[3] : NULL;
    if ((err = geokv_client_create(argv[1], &opts, &c)) != 0) {
        fprintf(stderr, "client: %s\n", geokv_strerror(err));
        return 1;
    }
    err = geokv_create_table(c, argv[2], 4, 1, 30000);
    if (err != 0 && err != GEOKV_ERR_APP_EXISTS)
        fprintf(stderr, "create: %s\n", geokv_strerror(err));
    else
        printf("%s %s\n", argv[2], err == 0 ? "created" : "exists");
    if (err == 0 || err == GEOKV_ERR_APP_EXISTS)
        err = geokv_list_tables(c, 5000, &tables, &ntables);
    if (err == 0) {
        for (size_t i = 0; i < ntables; i++)
            printf("table %s: %s, %u partitions\n", tables[i].name, tables[i].status,
                   tables[i].partition_count);
        free(tables);
        err = geokv_dup_list(c, argv[2], 5000, &dups, &ndups, why, sizeof(why));
        if (err != 0)
            fprintf(stderr, "dup list: %s (%s)\n", geokv_strerror(err), why);
    }
    if (err == 0) {
        printf("%zu duplications\n", ndups);
        geokv_dup_list_free(dups, ndups);
    }
    geokv_client_destroy(c);
    return err == 0 ? 0 : 1;
}
