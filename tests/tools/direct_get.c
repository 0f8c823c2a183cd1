/*
 * direct_get: asks one replica server for one key, bypassing the client's routing, so a test
 * can check what a particular (possibly stale) replica would answer:
 *   direct_get HOST:PORT APP_ID.PIDX HASH_KEY SORT_KEY
 * Prints "value: <v>" and exits 0, or prints the error name and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "proto/msg.h"
#include "proto/pack.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"

int
main(int argc, char **argv)
{
    unsigned app, pidx;
    struct msg_get_req req;
    struct msg_get_resp resp;
    struct unpacked *zone;
    struct buf body = BUF_INIT, reply = BUF_INIT;
    struct rpc_client *c;
    int rc;
    if (argc != 5 || sscanf(argv[2], "%u.%u", &app, &pidx) != 2) {
        fprintf(stderr, "usage: direct_get HOST:PORT APP_ID.PIDX HASH_KEY SORT_KEY\n");
        return 2;
    }
    req.hash_key = bytes_of(argv[3], strlen(argv[3]));
    req.sort_key = bytes_of(argv[4], strlen(argv[4]));
    msg_get_req_encode(&body, &req);
    c = rpc_client_create();
    rc = rpc_call(c, argv[1], RPC_GET, gpid_make(app, pidx), 0, body.data, body.len, 3000, &reply);
    if (rc == 0)
        rc = msg_get_resp_decode(reply.data, reply.len, &resp, &zone);
    if (rc == 0) {
        printf("value: %.*s\n", (int)resp.value.len, (const char *)resp.value.p);
        unpacked_free(zone);
    } else {
        printf("%s\n", err_name(rc));
    }
    rpc_client_destroy(c);
    buf_fini(&body);
    buf_fini(&reply);
    return rc == 0 ? 0 : 1;
}
