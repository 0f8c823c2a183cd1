/*
 * client_dup.c: the duplication calls of geokv_admin.h (RPC_DUP_ADD / LIST / MODIFY to the
 * meta leader). A refusal carries the meta's reason as a msg_error_text body, copied into the
 * caller's why buffer so admin tools can print it.
 *
 * Threads: callers' threads (synchronous, like the other admin calls).
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "common/xmalloc.h"
#include "proto/rpc_codes.h"

/* Fills why (if given) from an error reply's body, or empties it. */
static void
why_from_reply(int err, const struct buf *reply, char *why, size_t whylen)
{
    struct msg_error_text t;

    if (why == NULL || whylen == 0)
        return;
    why[0] = '\0';
    if (err != 0 && reply->len > 0 && msg_error_text_decode(reply->data, reply->len, &t) == 0)
        snprintf(why, whylen, "%s", t.text);
}

static bool
name_ok(const char *s, size_t cap)
{
    return s != NULL && s[0] != '\0' && strlen(s) < cap;
}

int
geokv_dup_add(struct geokv_client *c, const char *app, const char *remote, bool full,
              int timeout_ms, uint64_t *dupid, bool *existed, char *why, size_t whylen)
{
    struct msg_dup_add_req m;
    struct msg_dup_add_resp out = {0};
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    *dupid = 0;
    *existed = false;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (!name_ok(app, sizeof(m.app)) || !name_ok(remote, sizeof(m.remote)))
        return ERR_INVALID_ARG;
    memset(&m, 0, sizeof(m));
    snprintf(m.app, sizeof(m.app), "%s", app);
    snprintf(m.remote, sizeof(m.remote), "%s", remote);
    m.full = full;
    msg_dup_add_req_encode(&req, &m);
    /* One attempt gets all the time: the meta asks the remote cluster (up to 5 s), and a
     * resent add would only find the first one ("already exists"). */
    err = client_meta_call(c, RPC_DUP_ADD, &req, timeout_ms, false, &reply);
    if (err == 0 && msg_dup_add_resp_decode(reply.data, reply.len, &out) != 0)
        err = ERR_INVALID_DATA;
    *dupid = out.dupid;
    *existed = out.existed;
    why_from_reply(err, &reply, why, whylen);
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* The wire's form of a duplication, as geokv_admin.h shows it. */
static void
dup_of(const struct dup_info *d, struct geokv_dup *out)
{
    const char *st = dup_status_name(d->status), *fm = dup_fail_mode_name(d->fail_mode);
    out->dupid = d->dupid;
    snprintf(out->status, sizeof(out->status), "%s", st ? st : "UNKNOWN");
    snprintf(out->fail_mode, sizeof(out->fail_mode), "%s", fm ? fm : "UNKNOWN");
    snprintf(out->remote, sizeof(out->remote), "%s", d->remote);
    snprintf(out->remote_table, sizeof(out->remote_table), "%s", d->remote_app);
    out->create_time_ms = d->create_ts_ms;
    out->npartitions = d->npartitions;
    out->confirmed = xcalloc(d->npartitions + 1, sizeof(*out->confirmed));
    for (uint32_t p = 0; p < d->npartitions; p++)
        out->confirmed[p] = d->confirmed[p];
    snprintf(out->progress, sizeof(out->progress), "%s", d->progress);
}

int
geokv_dup_list(struct geokv_client *c, const char *app, int timeout_ms, struct geokv_dup **dups,
               size_t *n, char *why, size_t whylen)
{
    struct msg_app_name m;
    struct msg_dup_list_resp out = {0};
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    *dups = NULL;
    *n = 0;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (!name_ok(app, sizeof(m.name)))
        return ERR_INVALID_ARG;
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "%s", app);
    msg_app_name_encode(&req, &m);
    err = client_meta_call(c, RPC_DUP_LIST, &req, timeout_ms, true, &reply);
    if (err == 0 && msg_dup_list_resp_decode(reply.data, reply.len, &out) != 0)
        err = ERR_INVALID_DATA;
    why_from_reply(err, &reply, why, whylen);
    buf_fini(&req);
    buf_fini(&reply);
    if (err != 0)
        return err;
    *dups = xcalloc(out.ndups + 1, sizeof(**dups));
    for (uint32_t i = 0; i < out.ndups; i++)
        dup_of(&out.dups[i], &(*dups)[i]);
    *n = out.ndups;
    msg_dup_list_resp_fini(&out);
    return 0;
}

void
geokv_dup_list_free(struct geokv_dup *dups, size_t n)
{
    for (size_t i = 0; dups != NULL && i < n; i++)
        xfree(dups[i].confirmed);
    xfree(dups);
}

int
geokv_dup_modify(struct geokv_client *c, const char *app, uint64_t dupid, enum geokv_dup_op op,
                 enum geokv_dup_fail_mode fail_mode, int timeout_ms, char *why, size_t whylen)
{
    struct msg_dup_modify_req m;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (!name_ok(app, sizeof(m.app)))
        return ERR_INVALID_ARG;
    memset(&m, 0, sizeof(m));
    snprintf(m.app, sizeof(m.app), "%s", app);
    m.dupid = dupid;
    m.op = (uint32_t)op;
    m.fail_mode = (uint32_t)fail_mode;
    msg_dup_modify_req_encode(&req, &m);
    /* Not resent after a timeout: a second pause or remove would be refused ("is DS_PAUSE",
     * "was removed") although the first one worked. */
    err = client_meta_call(c, RPC_DUP_MODIFY, &req, timeout_ms, false, &reply);
    why_from_reply(err, &reply, why, whylen);
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}
