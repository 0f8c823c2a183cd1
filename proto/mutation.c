/* mutation.c: the one codec for logged mutations (plog, prepare, shipping). */
#include "proto/mutation.h"

#include "common/xmalloc.h"
#include "proto/pack.h"

static void
encode_ops_one(struct pk *p, const struct mutation_op *op)
{
    pk_tuple(p, "uyyyuu", (uint64_t)op->type, (const void *)op->hash_key.p, op->hash_key.len,
             (const void *)op->sort_key.p, op->sort_key.len, (const void *)op->value.p,
             op->value.len, (uint64_t)op->expire_ts, op->timetag);
}

static void
encode_ops(struct pk *p, const struct mutation_op *ops, uint32_t n)
{
    pk_array(p, n);
    for (uint32_t i = 0; i < n; i++)
        encode_ops_one(p, &ops[i]);
}

void
mutation_encode(struct buf *out, const struct mutation *m)
{
    struct pk p = {out};
    pk_array(&p, 6);
    pk_uint(&p, m->gpid);
    pk_int(&p, m->ballot);
    pk_int(&p, m->decree);
    pk_uint(&p, m->flags);
    encode_ops(&p, m->ops, m->nops);
    pk_int(&p, m->last_committed);
}

static int
decode_op(struct upk v, struct mutation_op *op)
{
    uint64_t type, expire_ts;
    int rc = upk_tuple(v, "uyyyuu", &type, &op->hash_key.p, &op->hash_key.len, &op->sort_key.p,
                       &op->sort_key.len, &op->value.p, &op->value.len, &expire_ts, &op->timetag);
    if (rc != 0)
        return rc;
    if ((type != OP_SET && type != OP_DEL) || expire_ts > UINT32_MAX ||
        op->hash_key.len > GEOKV_MAX_HASH_KEY)
        return ERR_INVALID_DATA;
    op->type = (uint32_t)type;
    op->expire_ts = (uint32_t)expire_ts;
    return 0;
}

/* Decodes an array of ops into an xmalloc'd array (*opsp, *np). */
static int
decode_ops(struct upk v, struct mutation_op **opsp, uint32_t *np)
{
    uint32_t n;
    int rc = upk_array(v, &n);
    *opsp = NULL;
    *np = 0;
    if (rc != 0)
        return rc;
    *opsp = xcalloc(n, sizeof(**opsp));
    *np = n;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        struct upk e;
        rc = upk_at(v, i, &e);
        if (rc == 0)
            rc = decode_op(e, &(*opsp)[i]);
    }
    return rc;
}

int
mutation_decode(const uint8_t *b, size_t n, struct mutation *m, struct unpacked **zonep)
{
    struct upk ops;
    uint64_t flags;
    int rc = unpacked_parse(b, n, zonep);
    m->ops = NULL;
    m->nops = 0;
    if (rc != 0)
        return rc;
    rc = upk_tuple(unpacked_root(*zonep), "uiiuai", &m->gpid, &m->ballot, &m->decree, &flags, &ops,
                   &m->last_committed);
    if (rc == 0 && flags > UINT32_MAX)
        rc = ERR_INVALID_DATA;
    if (rc == 0) {
        m->flags = (uint32_t)flags;
        rc = decode_ops(ops, &m->ops, &m->nops);
    }
    if (rc != 0) {
        mutation_fini(m);
        unpacked_free(*zonep);
        *zonep = NULL;
    }
    return rc;
}

void
mutation_fini(struct mutation *m)
{
    xfree(m->ops);
    m->ops = NULL;
    m->nops = 0;
}

void
msg_dup_apply_req_encode(struct buf *out, const struct msg_dup_apply_req *m)
{
    struct pk p = {out};
    pk_array(&p, 5);
    pk_uint(&p, m->source_cluster_id);
    encode_ops(&p, m->ops, m->nops);
    pk_uint(&p, m->source.pidx);
    pk_int(&p, m->source.confirmed);
    pk_uint(&p, m->source.confirmed_us);
}

int
msg_dup_apply_req_decode(const uint8_t *b, size_t n, struct msg_dup_apply_req *m,
                         struct unpacked **zonep)
{
    struct upk ops;
    uint64_t cid, pidx = 0, us = 0;
    int64_t confirmed = -1;
    int rc = unpacked_parse(b, n, zonep);
    m->ops = NULL;
    m->nops = 0;
    if (rc != 0)
        return rc;
    rc = upk_tuple(unpacked_root(*zonep), "ua|uiu", &cid, &ops, &pidx, &confirmed, &us);
    if (rc == 0 && (cid > 127 || pidx > UINT32_MAX))
        rc = ERR_INVALID_DATA;
    if (rc == 0) {
        m->source_cluster_id = (uint32_t)cid;
        m->source = (struct dup_source){(uint32_t)pidx, confirmed, us};
        rc = decode_ops(ops, &m->ops, &m->nops);
    }
    if (rc != 0) {
        msg_dup_apply_req_fini(m);
        unpacked_free(*zonep);
        *zonep = NULL;
    }
    return rc;
}

void
msg_dup_apply_req_fini(struct msg_dup_apply_req *m)
{
    xfree(m->ops);
    m->ops = NULL;
    m->nops = 0;
}

size_t
dup_apply_begin(struct buf *out, uint32_t source_cluster_id)
{
    struct pk p = {out};
    size_t at;
    pk_array(&p, 5);
    pk_uint(&p, source_cluster_id);
    at = out->len;
    buf_append_u8(out, 0xdd); /* array32, count patched by dup_apply_end */
    buf_append_be32(out, 0);
    return at;
}

void
dup_apply_add(struct buf *out, const struct mutation_op *op)
{
    struct pk p = {out};
    encode_ops_one(&p, op);
}

void
dup_apply_end(struct buf *out, size_t count_at, uint32_t nops, const struct dup_source *src)
{
    struct pk p = {out};
    be32_store(out->data + count_at + 1, nops);
    pk_uint(&p, src->pidx);
    pk_int(&p, src->confirmed);
    pk_uint(&p, src->confirmed_us);
}
