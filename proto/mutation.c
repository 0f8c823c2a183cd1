/* mutation.c: the one codec for logged mutations (plog, prepare, shipping). */
#include "proto/mutation.h"

#include "common/xmalloc.h"
#include "proto/pack.h"

void
mutation_encode(struct buf *out, const struct mutation *m)
{
    struct pk p = {out};
    pk_array(&p, 6);
    pk_uint(&p, m->gpid);
    pk_int(&p, m->ballot);
    pk_int(&p, m->decree);
    pk_uint(&p, m->flags);
    pk_array(&p, m->nops);
    for (uint32_t i = 0; i < m->nops; i++) {
        const struct mutation_op *op = &m->ops[i];
        pk_tuple(&p, "uyyyuu", (uint64_t)op->type, (const void *)op->hash_key.p,
                 op->hash_key.len, (const void *)op->sort_key.p, op->sort_key.len,
                 (const void *)op->value.p, op->value.len, (uint64_t)op->expire_ts, op->timetag);
    }
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

int
mutation_decode(const uint8_t *b, size_t n, struct mutation *m, struct unpacked **zonep)
{
    struct upk ops;
    uint64_t flags;
    uint32_t nops;
    int rc = unpacked_parse(b, n, zonep);
    m->ops = NULL;
    m->nops = 0;
    if (rc != 0)
        return rc;
    rc = upk_tuple(unpacked_root(*zonep), "uiiuai", &m->gpid, &m->ballot, &m->decree, &flags, &ops,
                   &m->last_committed);
    if (rc == 0 && flags > UINT32_MAX)
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        rc = upk_array(ops, &nops);
    if (rc == 0) {
        m->flags = (uint32_t)flags;
        m->ops = xcalloc(nops, sizeof(*m->ops));
        m->nops = nops;
        for (uint32_t i = 0; i < nops && rc == 0; i++) {
            struct upk v;
            rc = upk_at(ops, i, &v);
            if (rc == 0)
                rc = decode_op(v, &m->ops[i]);
        }
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
