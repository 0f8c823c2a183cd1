/*
 * msg.c: encoders and strict decoders of every message body (proto/msg.h).
 * Decoders that return borrowed slices hand the zone to the caller; the others free it.
 */
#include "proto/msg.h"

#include <string.h>

#include "common/xmalloc.h"
#include "proto/pack.h"

#define Y(b) (const void *)(b).p, (b).len
#define YP(b) &(b).p, &(b).len

/* Parses b into *zonep (or a local zone when zonep is NULL) and returns the root. */
static int
parse(const uint8_t *b, size_t n, struct unpacked **zonep, struct upk *root)
{
    int rc = unpacked_parse(b, n, zonep);
    if (rc == 0)
        *root = unpacked_root(*zonep);
    return rc;
}

/* Common tail of decoders: on failure drop the zone. */
static int
finish(int rc, struct unpacked **zonep)
{
    if (rc != 0) {
        unpacked_free(*zonep);
        *zonep = NULL;
    }
    return rc;
}

static int
get_u32(uint64_t v, uint32_t *out)
{
    if (v > UINT32_MAX)
        return ERR_INVALID_DATA;
    *out = (uint32_t)v;
    return 0;
}

/* Opens the array at field v: *n elements, at most max. */
static int
array_of(struct upk v, uint32_t max, uint32_t *n)
{
    int rc = upk_array(v, n);
    if (rc == 0 && *n > max)
        rc = ERR_TOO_LARGE;
    return rc;
}

/* ---- write ---- */

void
msg_write_req_encode(struct buf *out, const struct msg_write_req *m)
{
    struct pk p = {out};
    pk_array(&p, 1);
    pk_array(&p, m->nops);
    for (uint32_t i = 0; i < m->nops; i++) {
        const struct write_op *op = &m->ops[i];
        pk_tuple(&p, "uyyyu", (uint64_t)op->type, Y(op->hash_key), Y(op->sort_key), Y(op->value),
                 (uint64_t)op->ttl_s);
    }
}

int
msg_write_req_decode(const uint8_t *b, size_t n, struct msg_write_req *m, struct unpacked **zonep)
{
    struct upk root, ops;
    int rc = parse(b, n, zonep, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "a", &ops);
    if (rc == 0)
        rc = array_of(ops, 1u << 20, &m->nops);
    if (rc == 0)
        m->ops = xcalloc(m->nops, sizeof(*m->ops));
    for (uint32_t i = 0; rc == 0 && i < m->nops; i++) {
        struct write_op *op = &m->ops[i];
        struct upk v;
        uint64_t type = 0, ttl = 0;
        rc = upk_at(ops, i, &v);
        if (rc == 0)
            rc = upk_tuple(v, "uyyyu", &type, YP(op->hash_key), YP(op->sort_key), YP(op->value),
                           &ttl);
        if (rc == 0 && type != OP_SET && type != OP_DEL)
            rc = ERR_INVALID_DATA;
        if (rc == 0)
            rc = get_u32(ttl, &op->ttl_s);
        op->type = (uint32_t)type;
    }
    if (rc != 0)
        msg_write_req_fini(m);
    return finish(rc, zonep);
}

void
msg_write_req_fini(struct msg_write_req *m)
{
    xfree(m->ops);
    m->ops = NULL;
    m->nops = 0;
}

void
msg_write_resp_encode(struct buf *out, const struct msg_write_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "i", (int64_t)m->decree);
}

int
msg_write_resp_decode(const uint8_t *b, size_t n, struct msg_write_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "i", &m->decree);
    unpacked_free(z);
    return rc;
}

/* ---- get ---- */

void
msg_get_req_encode(struct buf *out, const struct msg_get_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "yy", Y(m->hash_key), Y(m->sort_key));
}

int
msg_get_req_decode(const uint8_t *b, size_t n, struct msg_get_req *m, struct unpacked **zonep)
{
    struct upk root;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "yy", YP(m->hash_key), YP(m->sort_key));
    return finish(rc, zonep);
}

void
msg_get_resp_encode(struct buf *out, const struct msg_get_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "yuu", Y(m->value), (uint64_t)m->expire_ts, m->timetag);
}

int
msg_get_resp_decode(const uint8_t *b, size_t n, struct msg_get_resp *m, struct unpacked **zonep)
{
    struct upk root;
    uint64_t exp;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "yuu", YP(m->value), &exp, &m->timetag);
    if (rc == 0)
        rc = get_u32(exp, &m->expire_ts);
    return finish(rc, zonep);
}

/* ---- multi_get / scan / records ---- */

void
msg_multi_get_req_encode(struct buf *out, const struct msg_multi_get_req *m)
{
    struct pk p = {out};
    pk_array(&p, 3);
    pk_bin(&p, m->hash_key.p, m->hash_key.len);
    pk_array(&p, m->nkeys);
    for (uint32_t i = 0; i < m->nkeys; i++)
        pk_bin(&p, m->sort_keys[i].p, m->sort_keys[i].len);
    pk_uint(&p, m->max_count);
}

int
msg_multi_get_req_decode(const uint8_t *b, size_t n, struct msg_multi_get_req *m,
                         struct unpacked **zonep)
{
    struct upk root, keys;
    uint64_t max;
    int rc = parse(b, n, zonep, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "yau", YP(m->hash_key), &keys, &max);
    if (rc == 0)
        rc = get_u32(max, &m->max_count);
    if (rc == 0)
        rc = array_of(keys, 1u << 20, &m->nkeys);
    if (rc == 0)
        m->sort_keys = xcalloc(m->nkeys, sizeof(*m->sort_keys));
    for (uint32_t i = 0; rc == 0 && i < m->nkeys; i++) {
        struct upk v;
        rc = upk_at(keys, i, &v);
        if (rc == 0)
            rc = upk_bytes(v, YP(m->sort_keys[i]));
    }
    if (rc != 0)
        msg_multi_get_req_fini(m);
    return finish(rc, zonep);
}

void
msg_multi_get_req_fini(struct msg_multi_get_req *m)
{
    xfree(m->sort_keys);
    m->sort_keys = NULL;
    m->nkeys = 0;
}

void
msg_scan_req_encode(struct buf *out, const struct msg_scan_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "byyyyu", (int)m->full, Y(m->hash_key), Y(m->start_sort_key), Y(m->stop_sort_key),
             Y(m->resume_key), (uint64_t)m->limit);
}

int
msg_scan_req_decode(const uint8_t *b, size_t n, struct msg_scan_req *m, struct unpacked **zonep)
{
    struct upk root;
    uint64_t limit;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "byyyyu", &m->full, YP(m->hash_key), YP(m->start_sort_key),
                       YP(m->stop_sort_key), YP(m->resume_key), &limit);
    if (rc == 0)
        rc = get_u32(limit, &m->limit);
    return finish(rc, zonep);
}

void
msg_records_resp_encode(struct buf *out, const struct msg_records_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_array(&p, m->nrecords);
    for (uint32_t i = 0; i < m->nrecords; i++) {
        const struct kv_record *r = &m->records[i];
        pk_tuple(&p, "yyyuu", Y(r->hash_key), Y(r->sort_key), Y(r->value), (uint64_t)r->expire_ts,
                 r->timetag);
    }
    pk_bin(&p, m->next_key.p, m->next_key.len);
}

int
msg_records_resp_decode(const uint8_t *b, size_t n, struct msg_records_resp *m,
                        struct unpacked **zonep)
{
    struct upk root, recs;
    int rc = parse(b, n, zonep, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "ay", &recs, YP(m->next_key));
    if (rc == 0)
        rc = array_of(recs, 1u << 24, &m->nrecords);
    if (rc == 0)
        m->records = xcalloc(m->nrecords, sizeof(*m->records));
    for (uint32_t i = 0; rc == 0 && i < m->nrecords; i++) {
        struct kv_record *r = &m->records[i];
        struct upk v;
        uint64_t exp;
        rc = upk_at(recs, i, &v);
        if (rc == 0)
            rc = upk_tuple(v, "yyyuu", YP(r->hash_key), YP(r->sort_key), YP(r->value), &exp,
                           &r->timetag);
        if (rc == 0)
            rc = get_u32(exp, &r->expire_ts);
    }
    if (rc != 0)
        msg_records_resp_fini(m);
    return finish(rc, zonep);
}

void
msg_records_resp_fini(struct msg_records_resp *m)
{
    xfree(m->records);
    m->records = NULL;
    m->nrecords = 0;
}

/* ---- incr / check_and_set ---- */

void
msg_incr_req_encode(struct buf *out, const struct msg_incr_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "yyiu", Y(m->hash_key), Y(m->sort_key), m->delta, (uint64_t)m->ttl_s);
}

int
msg_incr_req_decode(const uint8_t *b, size_t n, struct msg_incr_req *m, struct unpacked **zonep)
{
    struct upk root;
    uint64_t ttl;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "yyiu", YP(m->hash_key), YP(m->sort_key), &m->delta, &ttl);
    if (rc == 0)
        rc = get_u32(ttl, &m->ttl_s);
    return finish(rc, zonep);
}

void
msg_incr_resp_encode(struct buf *out, const struct msg_incr_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "i", m->new_value);
}

int
msg_incr_resp_decode(const uint8_t *b, size_t n, struct msg_incr_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "i", &m->new_value);
    unpacked_free(z);
    return rc;
}

void
msg_cas_req_encode(struct buf *out, const struct msg_cas_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "yyyyyuu", Y(m->hash_key), Y(m->check_sort_key), Y(m->check_operand),
             Y(m->set_sort_key), Y(m->set_value), (uint64_t)m->check_type, (uint64_t)m->ttl_s);
}

int
msg_cas_req_decode(const uint8_t *b, size_t n, struct msg_cas_req *m, struct unpacked **zonep)
{
    struct upk root;
    uint64_t type = 0, ttl = 0;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "yyyyyuu", YP(m->hash_key), YP(m->check_sort_key),
                       YP(m->check_operand), YP(m->set_sort_key), YP(m->set_value), &type, &ttl);
    if (rc == 0 && (type < CAS_NOT_EXIST || type > CAS_VALUE_EQUAL))
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        rc = get_u32(ttl, &m->ttl_s);
    m->check_type = (uint32_t)type;
    return finish(rc, zonep);
}

void
msg_cas_resp_encode(struct buf *out, const struct msg_cas_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "by", (int)m->check_value_exist, Y(m->check_value));
}

int
msg_cas_resp_decode(const uint8_t *b, size_t n, struct msg_cas_resp *m, struct unpacked **zonep)
{
    struct upk root;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "by", &m->check_value_exist, YP(m->check_value));
    return finish(rc, zonep);
}

/* ---- checkpoint / partition info ---- */

void
msg_checkpoint_resp_encode(struct buf *out, const struct msg_checkpoint_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "is", (int64_t)m->decree, m->dir);
}

int
msg_checkpoint_resp_decode(const uint8_t *b, size_t n, struct msg_checkpoint_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "is", &m->decree, m->dir, sizeof(m->dir));
    unpacked_free(z);
    return rc;
}

void
msg_partition_info_resp_encode(struct buf *out, const struct msg_partition_info_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "iiiii", (int64_t)m->ballot, (int64_t)m->last_committed, (int64_t)m->last_durable,
             (int64_t)m->plog_first, (int64_t)m->plog_last);
}

int
msg_partition_info_resp_decode(const uint8_t *b, size_t n, struct msg_partition_info_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "iiiii", &m->ballot, &m->last_committed, &m->last_durable,
                       &m->plog_first, &m->plog_last);
    unpacked_free(z);
    return rc;
}

/* ---- beacon ---- */

static void partition_config_encode(struct pk *p, const struct partition_config *pc);
static int partition_config_decode(struct upk v, struct partition_config *pc);

void
msg_beacon_req_encode(struct buf *out, const struct msg_beacon_req *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_str(&p, m->address);
    pk_array(&p, m->nreplicas);
    for (uint32_t i = 0; i < m->nreplicas; i++) {
        const struct replica_report *r = &m->replicas[i];
        pk_tuple(&p, "uiibiu", r->gpid, (int64_t)r->ballot, (int64_t)r->last_committed,
                 (int)r->ready, (int64_t)r->last_prepared, (uint64_t)r->role);
    }
}

int
msg_beacon_req_decode(const uint8_t *b, size_t n, struct msg_beacon_req *m)
{
    struct unpacked *z = NULL;
    struct upk root, reps;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "sa", m->address, sizeof(m->address), &reps);
    if (rc == 0)
        rc = array_of(reps, 1u << 20, &m->nreplicas);
    if (rc == 0)
        m->replicas = xcalloc(m->nreplicas, sizeof(*m->replicas));
    for (uint32_t i = 0; rc == 0 && i < m->nreplicas; i++) {
        struct replica_report *r = &m->replicas[i];
        struct upk v;
        rc = upk_at(reps, i, &v);
        uint64_t role = 0;
        if (rc == 0)
            rc = upk_tuple(v, "uiibiu", &r->gpid, &r->ballot, &r->last_committed, &r->ready,
                           &r->last_prepared, &role);
        if (rc == 0)
            rc = get_u32(role, &r->role);
    }
    if (rc != 0)
        msg_beacon_req_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_beacon_req_fini(struct msg_beacon_req *m)
{
    xfree(m->replicas);
    m->replicas = NULL;
    m->nreplicas = 0;
}

static void
dup_master_encode(struct pk *p, const struct dup_master *m)
{
    pk_tuple(p, "sss", m->cluster, m->app, m->metas);
}

static int
dup_master_decode(struct upk v, struct dup_master *m)
{
    return upk_tuple(v, "sss", m->cluster, sizeof(m->cluster), m->app, sizeof(m->app), m->metas,
                     sizeof(m->metas));
}

static void
replica_assign_encode(struct pk *p, const struct replica_assign *a)
{
    pk_array(p, 5);
    pk_uint(p, a->gpid);
    pk_int(p, a->ballot);
    pk_uint(p, a->role);
    partition_config_encode(p, &a->config);
    dup_master_encode(p, &a->master);
}

static int
replica_assign_decode(struct upk v, struct replica_assign *a)
{
    struct upk cfg, master;
    uint64_t role;
    int rc = upk_tuple(v, "uiuaa", &a->gpid, &a->ballot, &role, &cfg, &master);
    if (rc == 0 && role > ROLE_LEARNER)
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        rc = partition_config_decode(cfg, &a->config);
    if (rc == 0)
        rc = dup_master_decode(master, &a->master);
    a->role = (uint32_t)role;
    return rc;
}

void
msg_replica_assign_encode(struct buf *out, const struct replica_assign *m)
{
    struct pk p = {out};
    replica_assign_encode(&p, m);
}

int
msg_replica_assign_decode(const uint8_t *b, size_t n, struct replica_assign *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = replica_assign_decode(root, m);
    unpacked_free(z);
    return rc;
}

void
msg_beacon_resp_encode(struct buf *out, const struct msg_beacon_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 3);
    pk_array(&p, m->nassign);
    for (uint32_t i = 0; i < m->nassign; i++)
        replica_assign_encode(&p, &m->assign[i]);
    pk_array(&p, m->ndrop);
    for (uint32_t i = 0; i < m->ndrop; i++)
        pk_uint(&p, m->drop[i]);
    pk_int(&p, m->lease_ms);
}

int
msg_beacon_resp_decode(const uint8_t *b, size_t n, struct msg_beacon_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, as, ds;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "aai", &as, &ds, &m->lease_ms);
    if (rc == 0)
        rc = array_of(as, 1u << 20, &m->nassign);
    if (rc == 0)
        rc = array_of(ds, 1u << 20, &m->ndrop);
    if (rc == 0) {
        m->assign = xcalloc(m->nassign, sizeof(*m->assign));
        m->drop = xcalloc(m->ndrop, sizeof(*m->drop));
    }
    for (uint32_t i = 0; rc == 0 && i < m->nassign; i++) {
        struct upk v;
        rc = upk_at(as, i, &v);
        if (rc == 0)
            rc = replica_assign_decode(v, &m->assign[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < m->ndrop; i++) {
        struct upk v;
        rc = upk_at(ds, i, &v);
        if (rc == 0)
            rc = upk_uint(v, &m->drop[i]);
    }
    if (rc != 0)
        msg_beacon_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_beacon_resp_fini(struct msg_beacon_resp *m)
{
    xfree(m->assign);
    xfree(m->drop);
    m->assign = NULL;
    m->drop = NULL;
    m->nassign = m->ndrop = 0;
}

/* ---- meta: redirect, names, configs ---- */

void
msg_redirect_encode(struct buf *out, const struct msg_redirect *m)
{
    struct pk p = {out};
    pk_tuple(&p, "s", m->leader);
}

int
msg_redirect_decode(const uint8_t *b, size_t n, struct msg_redirect *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "s", m->leader, sizeof(m->leader));
    unpacked_free(z);
    return rc;
}

void
msg_app_name_encode(struct buf *out, const struct msg_app_name *m)
{
    struct pk p = {out};
    pk_tuple(&p, "s", m->name);
}

int
msg_app_name_decode(const uint8_t *b, size_t n, struct msg_app_name *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "s", m->name, sizeof(m->name));
    unpacked_free(z);
    return rc;
}

static void
partition_config_encode(struct pk *p, const struct partition_config *pc)
{
    pk_array(p, 5);
    pk_uint(p, pc->pidx);
    pk_int(p, pc->ballot);
    pk_str(p, pc->primary);
    pk_array(p, pc->nsecondaries);
    for (uint32_t i = 0; i < pc->nsecondaries; i++)
        pk_str(p, pc->secondaries[i]);
    pk_int(p, pc->last_committed);
}

static int
partition_config_decode(struct upk v, struct partition_config *pc)
{
    struct upk secs;
    uint64_t pidx;
    int rc = upk_tuple(v, "uisai", &pidx, &pc->ballot, pc->primary, sizeof(pc->primary), &secs,
                       &pc->last_committed);
    if (rc == 0)
        rc = get_u32(pidx, &pc->pidx);
    if (rc == 0)
        rc = array_of(secs, GEOKV_MAX_REPLICAS, &pc->nsecondaries);
    for (uint32_t i = 0; rc == 0 && i < pc->nsecondaries; i++) {
        struct upk s;
        rc = upk_at(secs, i, &s);
        if (rc == 0) {
            const uint8_t *d;
            size_t len;
            rc = upk_bytes(s, &d, &len);
            if (rc == 0 && len >= GEOKV_ADDR_MAX)
                rc = ERR_TOO_LARGE;
            if (rc == 0 && memchr(d, '\0', len) != NULL)
                rc = ERR_INVALID_DATA; /* as upk_tuple 's': a NUL would truncate the address */
            if (rc == 0) {
                memcpy(pc->secondaries[i], d, len);
                pc->secondaries[i][len] = '\0';
            }
        }
    }
    return rc;
}

void
msg_app_config_encode(struct buf *out, const struct msg_app_config *m)
{
    struct pk p = {out};
    pk_array(&p, 8);
    pk_uint(&p, m->app_id);
    pk_str(&p, m->name);
    pk_uint(&p, m->partition_count);
    pk_uint(&p, m->replica_count);
    pk_uint(&p, m->status);
    pk_array(&p, m->partition_count);
    for (uint32_t i = 0; i < m->partition_count; i++)
        partition_config_encode(&p, &m->partitions[i]);
    pk_bool(&p, m->healthy);
    dup_master_encode(&p, &m->master);
}

int
msg_app_config_decode(const uint8_t *b, size_t n, struct msg_app_config *m)
{
    struct unpacked *z = NULL;
    struct upk root, parts, master;
    uint64_t id, pc, rcnt, st;
    uint32_t np = 0;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "usuuuaba", &id, m->name, sizeof(m->name), &pc, &rcnt, &st, &parts,
                       &m->healthy, &master);
    if (rc == 0)
        rc = dup_master_decode(master, &m->master);
    if (rc == 0 && (id > UINT32_MAX || pc > 65536 || rcnt > GEOKV_MAX_REPLICAS || st > 255))
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        rc = array_of(parts, 65536, &np);
    if (rc == 0 && np != pc)
        rc = ERR_INVALID_DATA;
    if (rc == 0) {
        m->app_id = (uint32_t)id;
        m->partition_count = (uint32_t)pc;
        m->replica_count = (uint32_t)rcnt;
        m->status = (uint32_t)st;
        m->partitions = xcalloc(np, sizeof(*m->partitions));
    }
    for (uint32_t i = 0; rc == 0 && i < np; i++) {
        struct upk v;
        rc = upk_at(parts, i, &v);
        if (rc == 0)
            rc = partition_config_decode(v, &m->partitions[i]);
    }
    if (rc != 0)
        msg_app_config_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_app_config_fini(struct msg_app_config *m)
{
    xfree(m->partitions);
    m->partitions = NULL;
}

void
msg_create_app_req_encode(struct buf *out, const struct msg_create_app_req *m)
{
    struct pk p = {out};
    pk_array(&p, 4);
    pk_str(&p, m->name);
    pk_uint(&p, m->partition_count);
    pk_uint(&p, m->replica_count);
    dup_master_encode(&p, &m->master);
}

int
msg_create_app_req_decode(const uint8_t *b, size_t n, struct msg_create_app_req *m)
{
    struct unpacked *z = NULL;
    struct upk root, master;
    uint64_t pc, rcnt;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "suua", m->name, sizeof(m->name), &pc, &rcnt, &master);
    if (rc == 0)
        rc = dup_master_decode(master, &m->master);
    if (rc == 0)
        rc = get_u32(pc, &m->partition_count);
    if (rc == 0)
        rc = get_u32(rcnt, &m->replica_count);
    unpacked_free(z);
    return rc;
}

void
msg_list_apps_resp_encode(struct buf *out, const struct msg_list_apps_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 1);
    pk_array(&p, m->napps);
    for (uint32_t i = 0; i < m->napps; i++) {
        const struct app_info *a = &m->apps[i];
        pk_tuple(&p, "usuuui", (uint64_t)a->app_id, a->name, (uint64_t)a->status,
                 (uint64_t)a->partition_count, (uint64_t)a->replica_count, a->create_ts);
    }
}

int
msg_list_apps_resp_decode(const uint8_t *b, size_t n, struct msg_list_apps_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, apps;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "a", &apps);
    if (rc == 0)
        rc = array_of(apps, 1u << 20, &m->napps);
    if (rc == 0)
        m->apps = xcalloc(m->napps, sizeof(*m->apps));
    for (uint32_t i = 0; rc == 0 && i < m->napps; i++) {
        struct app_info *a = &m->apps[i];
        struct upk v;
        uint64_t id = 0, st = 0, pc = 0, rcnt = 0;
        rc = upk_at(apps, i, &v);
        if (rc == 0)
            rc = upk_tuple(v, "usuuui", &id, a->name, sizeof(a->name), &st, &pc, &rcnt,
                           &a->create_ts);
        if (rc == 0 && (id > UINT32_MAX || st > UINT32_MAX || pc > UINT32_MAX || rcnt > UINT32_MAX))
            rc = ERR_INVALID_DATA;
        a->app_id = (uint32_t)id;
        a->status = (uint32_t)st;
        a->partition_count = (uint32_t)pc;
        a->replica_count = (uint32_t)rcnt;
    }
    if (rc != 0)
        msg_list_apps_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_list_apps_resp_fini(struct msg_list_apps_resp *m)
{
    xfree(m->apps);
    m->apps = NULL;
    m->napps = 0;
}

void
msg_list_nodes_resp_encode(struct buf *out, const struct msg_list_nodes_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_str(&p, m->leader);
    pk_array(&p, m->nnodes);
    for (uint32_t i = 0; i < m->nnodes; i++) {
        const struct node_info *nd = &m->nodes[i];
        pk_tuple(&p, "suuu", nd->address, (uint64_t)nd->state, (uint64_t)nd->primary_count,
                 (uint64_t)nd->secondary_count);
    }
}

int
msg_list_nodes_resp_decode(const uint8_t *b, size_t n, struct msg_list_nodes_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, nodes;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "sa", m->leader, sizeof(m->leader), &nodes);
    if (rc == 0)
        rc = array_of(nodes, 1u << 16, &m->nnodes);
    if (rc == 0)
        m->nodes = xcalloc(m->nnodes, sizeof(*m->nodes));
    for (uint32_t i = 0; rc == 0 && i < m->nnodes; i++) {
        struct node_info *nd = &m->nodes[i];
        struct upk v;
        uint64_t st = 0, pc = 0, sc = 0;
        rc = upk_at(nodes, i, &v);
        if (rc == 0)
            rc = upk_tuple(v, "suuu", nd->address, sizeof(nd->address), &st, &pc, &sc);
        if (rc == 0 && (st > UINT32_MAX || pc > UINT32_MAX || sc > UINT32_MAX))
            rc = ERR_INVALID_DATA;
        nd->state = (uint32_t)st;
        nd->primary_count = (uint32_t)pc;
        nd->secondary_count = (uint32_t)sc;
    }
    if (rc != 0)
        msg_list_nodes_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_list_nodes_resp_fini(struct msg_list_nodes_resp *m)
{
    xfree(m->nodes);
    m->nodes = NULL;
    m->nnodes = 0;
}

/* ---- replication inside a cluster ---- */

/* Packs an array of byte strings. */
static void
pk_bytes_array(struct pk *p, const struct bytes *v, uint32_t n)
{
    pk_array(p, n);
    for (uint32_t i = 0; i < n; i++)
        pk_bin(p, v[i].p, v[i].len);
}

/* Reads an array of byte strings (xmalloc'd array of slices borrowed from the zone). */
static int
upk_bytes_array(struct upk v, uint32_t max, struct bytes **out, uint32_t *n)
{
    int rc = array_of(v, max, n);
    *out = NULL;
    if (rc == 0)
        *out = xcalloc(*n, sizeof(**out));
    for (uint32_t i = 0; rc == 0 && i < *n; i++) {
        struct upk e;
        rc = upk_at(v, i, &e);
        if (rc == 0)
            rc = upk_bytes(e, &(*out)[i].p, &(*out)[i].len);
    }
    if (rc != 0) {
        xfree(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sha_field(const uint8_t *d, size_t len, uint8_t out[32])
{
    if (len != 32)
        return ERR_INVALID_DATA;
    memcpy(out, d, 32);
    return 0;
}

void
msg_digest_resp_encode(struct buf *out, const struct msg_digest_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "iuy", (int64_t)m->last_committed, m->records, (const void *)m->sha256,
             (size_t)32);
}

int
msg_digest_resp_decode(const uint8_t *b, size_t n, struct msg_digest_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    const uint8_t *d;
    size_t len;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "iuy", &m->last_committed, &m->records, &d, &len);
    if (rc == 0)
        rc = sha_field(d, len, m->sha256);
    unpacked_free(z);
    return rc;
}

void
msg_prepare_req_encode(struct buf *out, const struct msg_prepare_req *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_int(&p, m->last_committed);
    pk_bytes_array(&p, m->mutations, m->nmutations);
}

int
msg_prepare_req_decode(const uint8_t *b, size_t n, struct msg_prepare_req *m,
                       struct unpacked **zonep)
{
    struct upk root, muts;
    int rc = parse(b, n, zonep, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "ia", &m->last_committed, &muts);
    if (rc == 0)
        rc = upk_bytes_array(muts, 1u << 20, &m->mutations, &m->nmutations);
    return finish(rc, zonep);
}

void
msg_prepare_req_fini(struct msg_prepare_req *m)
{
    xfree(m->mutations);
    m->mutations = NULL;
    m->nmutations = 0;
}

void
msg_replica_state_encode(struct buf *out, const struct msg_replica_state *m)
{
    struct pk p = {out};
    pk_tuple(&p, "ii", (int64_t)m->last_committed, (int64_t)m->last_prepared);
}

int
msg_replica_state_decode(const uint8_t *b, size_t n, struct msg_replica_state *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "ii", &m->last_committed, &m->last_prepared);
    unpacked_free(z);
    return rc;
}

void
msg_group_check_req_encode(struct buf *out, const struct msg_group_check_req *m)
{
    struct pk p = {out};
    pk_array(&p, 4);
    partition_config_encode(&p, &m->config);
    pk_int(&p, m->last_committed);
    pk_array(&p, m->nconfirms);
    for (uint32_t i = 0; i < m->nconfirms; i++)
        pk_tuple(&p, "ui", m->confirms[i].dupid, (int64_t)m->confirms[i].confirmed);
    pk_bool(&p, m->dups_complete);
}

int
msg_group_check_req_decode(const uint8_t *b, size_t n, struct msg_group_check_req *m)
{
    struct unpacked *z = NULL;
    struct upk root, cfg, confs;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "aia|b", &cfg, &m->last_committed, &confs, &m->dups_complete);
    if (rc == 0)
        rc = partition_config_decode(cfg, &m->config);
    if (rc == 0)
        rc = array_of(confs, GROUP_CHECK_MAX_DUPS, &m->nconfirms);
    for (uint32_t i = 0; rc == 0 && i < m->nconfirms; i++) {
        struct upk e;
        rc = upk_at(confs, i, &e);
        if (rc == 0)
            rc = upk_tuple(e, "ui", &m->confirms[i].dupid, &m->confirms[i].confirmed);
    }
    unpacked_free(z);
    return rc;
}

void
msg_learn_req_encode(struct buf *out, const struct msg_learn_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "si", m->learner, (int64_t)m->last_committed);
}

int
msg_learn_req_decode(const uint8_t *b, size_t n, struct msg_learn_req *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "si", m->learner, sizeof(m->learner), &m->last_committed);
    unpacked_free(z);
    return rc;
}

void
msg_learn_resp_encode(struct buf *out, const struct msg_learn_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 5);
    pk_int(&p, m->primary_committed);
    pk_int(&p, m->checkpoint_decree);
    pk_str(&p, m->checkpoint_dir);
    pk_bytes_array(&p, m->mutations, m->nmutations);
    pk_bool(&p, m->done);
}

int
msg_learn_resp_decode(const uint8_t *b, size_t n, struct msg_learn_resp *m, struct unpacked **zonep)
{
    struct upk root, muts;
    int rc = parse(b, n, zonep, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "iisab", &m->primary_committed, &m->checkpoint_decree,
                       m->checkpoint_dir, sizeof(m->checkpoint_dir), &muts, &m->done);
    if (rc == 0)
        rc = upk_bytes_array(muts, 1u << 20, &m->mutations, &m->nmutations);
    return finish(rc, zonep);
}

void
msg_learn_resp_fini(struct msg_learn_resp *m)
{
    xfree(m->mutations);
    m->mutations = NULL;
    m->nmutations = 0;
}

void
msg_file_list_req_encode(struct buf *out, const struct msg_file_list_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "s", m->dir);
}

int
msg_file_list_req_decode(const uint8_t *b, size_t n, struct msg_file_list_req *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "s", m->dir, sizeof(m->dir));
    unpacked_free(z);
    return rc;
}

void
msg_file_list_resp_encode(struct buf *out, const struct msg_file_list_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 1);
    pk_array(&p, m->nfiles);
    for (uint32_t i = 0; i < m->nfiles; i++)
        pk_tuple(&p, "suy", m->files[i].name, m->files[i].size, (const void *)m->files[i].sha256,
                 (size_t)32);
}

int
msg_file_list_resp_decode(const uint8_t *b, size_t n, struct msg_file_list_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, files;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "a", &files);
    if (rc == 0)
        rc = array_of(files, 1u << 16, &m->nfiles);
    if (rc == 0)
        m->files = xcalloc(m->nfiles, sizeof(*m->files));
    for (uint32_t i = 0; rc == 0 && i < m->nfiles; i++) {
        struct file_entry *f = &m->files[i];
        const uint8_t *d;
        size_t len;
        struct upk v;
        rc = upk_at(files, i, &v);
        if (rc == 0)
            rc = upk_tuple(v, "suy", f->name, sizeof(f->name), &f->size, &d, &len);
        if (rc == 0)
            rc = sha_field(d, len, f->sha256);
    }
    if (rc != 0)
        msg_file_list_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_file_list_resp_fini(struct msg_file_list_resp *m)
{
    xfree(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

void
msg_file_read_req_encode(struct buf *out, const struct msg_file_read_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "ssuu", m->dir, m->name, m->offset, (uint64_t)m->len);
}

int
msg_file_read_req_decode(const uint8_t *b, size_t n, struct msg_file_read_req *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    uint64_t len;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "ssuu", m->dir, sizeof(m->dir), m->name, sizeof(m->name), &m->offset,
                       &len);
    if (rc == 0)
        rc = get_u32(len, &m->len);
    unpacked_free(z);
    return rc;
}

void
msg_file_read_resp_encode(struct buf *out, const struct msg_file_read_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "yu", Y(m->data), (uint64_t)m->crc32c);
}

int
msg_file_read_resp_decode(const uint8_t *b, size_t n, struct msg_file_read_resp *m,
                          struct unpacked **zonep)
{
    struct upk root;
    uint64_t crc;
    int rc = parse(b, n, zonep, &root);
    if (rc == 0)
        rc = upk_tuple(root, "yu", YP(m->data), &crc);
    if (rc == 0)
        rc = get_u32(crc, &m->crc32c);
    return finish(rc, zonep);
}

void
msg_config_proposal_encode(struct buf *out, const struct msg_config_proposal *m)
{
    struct pk p = {out};
    pk_tuple(&p, "uius", m->gpid, (int64_t)m->ballot, (uint64_t)m->type, m->node);
}

int
msg_config_proposal_decode(const uint8_t *b, size_t n, struct msg_config_proposal *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    uint64_t type;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "uius", &m->gpid, &m->ballot, &type, m->node, sizeof(m->node));
    if (rc == 0 && (type < CONFIG_UPGRADE_LEARNER || type > CONFIG_BUMP_BALLOT))
        rc = ERR_INVALID_DATA;
    m->type = (uint32_t)type;
    unpacked_free(z);
    return rc;
}

/* ---- duplication ---- */

static const char *const dup_status_names[] = {
    [DS_INIT] = "DS_INIT", [DS_PREPARE] = "DS_PREPARE", [DS_APP] = "DS_APP",
    [DS_LOG] = "DS_LOG",   [DS_PAUSE] = "DS_PAUSE",     [DS_REMOVED] = "DS_REMOVED",
};
static const char *const dup_fail_mode_names[] = {
    [FAIL_SLOW] = "FAIL_SLOW",
    [FAIL_SKIP] = "FAIL_SKIP",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
dup_status_name(uint32_t status)
{
    return status < NELEM(dup_status_names) ? dup_status_names[status] : NULL;
}

const char *
dup_fail_mode_name(uint32_t mode)
{
    return mode < NELEM(dup_fail_mode_names) ? dup_fail_mode_names[mode] : NULL;
}

/* Index of name in names (n entries), or -1. */
static int
name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int
dup_status_parse(const char *name)
{
    return name_index(dup_status_names, NELEM(dup_status_names), name);
}

int
dup_fail_mode_parse(const char *name)
{
    return name_index(dup_fail_mode_names, NELEM(dup_fail_mode_names), name);
}

void
msg_dup_add_req_encode(struct buf *out, const struct msg_dup_add_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "ssb", m->app, m->remote, (int)m->full);
}

int
msg_dup_add_req_decode(const uint8_t *b, size_t n, struct msg_dup_add_req *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "ssb", m->app, sizeof(m->app), m->remote, sizeof(m->remote), &m->full);
    unpacked_free(z);
    return rc;
}

void
msg_dup_add_resp_encode(struct buf *out, const struct msg_dup_add_resp *m)
{
    struct pk p = {out};
    pk_tuple(&p, "ub", m->dupid, (int)m->existed);
}

int
msg_dup_add_resp_decode(const uint8_t *b, size_t n, struct msg_dup_add_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "ub", &m->dupid, &m->existed);
    unpacked_free(z);
    return rc;
}

static void
dup_info_encode(struct pk *p, const struct dup_info *d)
{
    pk_array(p, 8);
    pk_uint(p, d->dupid);
    pk_uint(p, d->status);
    pk_uint(p, d->fail_mode);
    pk_str(p, d->remote);
    pk_str(p, d->remote_app);
    pk_int(p, d->create_ts_ms);
    pk_array(p, d->npartitions);
    for (uint32_t i = 0; i < d->npartitions; i++)
        pk_int(p, d->confirmed[i]);
    pk_str(p, d->progress);
}

static int
dup_info_decode(struct upk v, struct dup_info *d)
{
    struct upk parts;
    uint64_t st, fm;
    int rc = upk_tuple(v, "uuussias", &d->dupid, &st, &fm, d->remote, sizeof(d->remote),
                       d->remote_app, sizeof(d->remote_app), &d->create_ts_ms, &parts, d->progress,
                       sizeof(d->progress));
    if (rc == 0 && (st > DS_REMOVED || fm > FAIL_SKIP))
        rc = ERR_INVALID_DATA;
    d->status = (uint32_t)st;
    d->fail_mode = (uint32_t)fm;
    if (rc == 0)
        rc = array_of(parts, 65536, &d->npartitions);
    if (rc == 0)
        d->confirmed = xcalloc(d->npartitions, sizeof(*d->confirmed));
    for (uint32_t i = 0; rc == 0 && i < d->npartitions; i++) {
        struct upk e;
        rc = upk_at(parts, i, &e);
        if (rc == 0)
            rc = upk_int(e, &d->confirmed[i]);
    }
    return rc;
}

void
msg_dup_list_resp_encode(struct buf *out, const struct msg_dup_list_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_uint(&p, m->app_id);
    pk_array(&p, m->ndups);
    for (uint32_t i = 0; i < m->ndups; i++)
        dup_info_encode(&p, &m->dups[i]);
}

int
msg_dup_list_resp_decode(const uint8_t *b, size_t n, struct msg_dup_list_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, dups;
    uint64_t app_id;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "ua", &app_id, &dups);
    if (rc == 0)
        rc = get_u32(app_id, &m->app_id);
    if (rc == 0)
        rc = array_of(dups, 4096, &m->ndups);
    if (rc == 0)
        m->dups = xcalloc(m->ndups, sizeof(*m->dups));
    for (uint32_t i = 0; rc == 0 && i < m->ndups; i++) {
        struct upk e;
        rc = upk_at(dups, i, &e);
        if (rc == 0)
            rc = dup_info_decode(e, &m->dups[i]);
    }
    if (rc != 0)
        msg_dup_list_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_dup_list_resp_fini(struct msg_dup_list_resp *m)
{
    for (uint32_t i = 0; m->dups && i < m->ndups; i++)
        xfree(m->dups[i].confirmed);
    xfree(m->dups);
    m->dups = NULL;
    m->ndups = 0;
}

void
msg_dup_modify_req_encode(struct buf *out, const struct msg_dup_modify_req *m)
{
    struct pk p = {out};
    pk_tuple(&p, "suuu", m->app, m->dupid, (uint64_t)m->op, (uint64_t)m->fail_mode);
}

int
msg_dup_modify_req_decode(const uint8_t *b, size_t n, struct msg_dup_modify_req *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    uint64_t op, fm;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "suuu", m->app, sizeof(m->app), &m->dupid, &op, &fm);
    if (rc == 0 && (op < DUP_OP_PAUSE || op > DUP_OP_FAIL_MODE || fm > FAIL_SKIP))
        rc = ERR_INVALID_DATA;
    m->op = (uint32_t)op;
    m->fail_mode = (uint32_t)fm;
    unpacked_free(z);
    return rc;
}

void
msg_dup_sync_req_encode(struct buf *out, const struct msg_dup_sync_req *m)
{
    struct pk p = {out};
    pk_array(&p, 3);
    pk_str(&p, m->node);
    pk_array(&p, m->nprimaries);
    for (uint32_t i = 0; i < m->nprimaries; i++)
        pk_uint(&p, m->primaries[i]);
    pk_array(&p, m->nconfirms);
    for (uint32_t i = 0; i < m->nconfirms; i++)
        pk_tuple(&p, "uuib", m->confirms[i].gpid, m->confirms[i].dupid,
                 (int64_t)m->confirms[i].confirmed, m->confirms[i].resyncing);
}

int
msg_dup_sync_req_decode(const uint8_t *b, size_t n, struct msg_dup_sync_req *m)
{
    struct unpacked *z = NULL;
    struct upk root, prims, confs;
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "saa", m->node, sizeof(m->node), &prims, &confs);
    if (rc == 0)
        rc = array_of(prims, 1u << 20, &m->nprimaries);
    if (rc == 0)
        rc = array_of(confs, 1u << 20, &m->nconfirms);
    if (rc == 0) {
        m->primaries = xcalloc(m->nprimaries, sizeof(*m->primaries));
        m->confirms = xcalloc(m->nconfirms, sizeof(*m->confirms));
    }
    for (uint32_t i = 0; rc == 0 && i < m->nprimaries; i++) {
        struct upk e;
        rc = upk_at(prims, i, &e);
        if (rc == 0)
            rc = upk_uint(e, &m->primaries[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < m->nconfirms; i++) {
        struct dup_confirm *c = &m->confirms[i];
        struct upk e;
        rc = upk_at(confs, i, &e);
        if (rc == 0)
            rc = upk_tuple(e, "uui|b", &c->gpid, &c->dupid, &c->confirmed, &c->resyncing);
    }
    if (rc != 0)
        msg_dup_sync_req_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_dup_sync_req_fini(struct msg_dup_sync_req *m)
{
    xfree(m->primaries);
    xfree(m->confirms);
    m->primaries = NULL;
    m->confirms = NULL;
    m->nprimaries = m->nconfirms = 0;
}

void
msg_dup_sync_resp_encode(struct buf *out, const struct msg_dup_sync_resp *m)
{
    struct pk p = {out};
    pk_array(&p, 2);
    pk_array(&p, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const struct dup_assign *d = &m->dups[i];
        pk_tuple(&p, "uuuussi", d->gpid, d->dupid, (uint64_t)d->status, (uint64_t)d->fail_mode,
                 d->remote, d->remote_app, (int64_t)d->confirmed);
    }
    pk_array(&p, m->nled);
    for (uint32_t i = 0; i < m->nled; i++)
        pk_uint(&p, m->led[i]);
}

int
msg_dup_sync_resp_decode(const uint8_t *b, size_t n, struct msg_dup_sync_resp *m)
{
    struct unpacked *z = NULL;
    struct upk root, dups, led = {NULL};
    int rc = parse(b, n, &z, &root);
    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "a|a", &dups, &led);
    if (rc == 0)
        rc = array_of(dups, 1u << 20, &m->n);
    if (rc == 0)
        m->dups = xcalloc(m->n, sizeof(*m->dups));
    if (rc == 0 && led.obj != NULL) {
        m->has_led = true;
        rc = array_of(led, 1u << 20, &m->nled);
        if (rc == 0)
            m->led = xcalloc(m->nled + 1, sizeof(*m->led));
        for (uint32_t i = 0; rc == 0 && i < m->nled; i++) {
            struct upk e;
            rc = upk_at(led, i, &e);
            if (rc == 0)
                rc = upk_uint(e, &m->led[i]);
        }
    }
    for (uint32_t i = 0; rc == 0 && i < m->n; i++) {
        struct dup_assign *d = &m->dups[i];
        uint64_t st, fm;
        struct upk e;
        rc = upk_at(dups, i, &e);
        if (rc == 0)
            rc = upk_tuple(e, "uuuussi", &d->gpid, &d->dupid, &st, &fm, d->remote,
                           sizeof(d->remote), d->remote_app, sizeof(d->remote_app), &d->confirmed);
        if (rc == 0 && (st > DS_REMOVED || fm > FAIL_SKIP))
            rc = ERR_INVALID_DATA;
        d->status = (uint32_t)st;
        d->fail_mode = (uint32_t)fm;
    }
    if (rc != 0)
        msg_dup_sync_resp_fini(m);
    unpacked_free(z);
    return rc;
}

void
msg_dup_sync_resp_fini(struct msg_dup_sync_resp *m)
{
    xfree(m->dups);
    xfree(m->led);
    m->dups = NULL;
    m->led = NULL;
    m->n = m->nled = 0;
}

void
msg_server_config_encode(struct buf *out, const struct msg_server_config *m)
{
    struct pk p = {out};
    pk_tuple(&p, "ss", m->key, m->value);
}

int
msg_server_config_decode(const uint8_t *b, size_t n, struct msg_server_config *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    int rc = parse(b, n, &z, &root);
    if (rc == 0)
        rc = upk_tuple(root, "ss", m->key, sizeof(m->key), m->value, sizeof(m->value));
    unpacked_free(z);
    return rc;
}

void
msg_error_text_encode(struct buf *out, const struct msg_error_text *m)
{
    struct pk p = {out};
    pk_tuple(&p, "s", m->text);
}

int
msg_error_text_decode(const uint8_t *b, size_t n, struct msg_error_text *m)
{
    struct unpacked *z = NULL;
    struct upk root;
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = parse(b, n, &z, &root);

    memset(m, 0, sizeof(*m));
    if (rc == 0)
        rc = upk_tuple(root, "y", &p, &len);
    if (rc == 0) {
        if (len >= sizeof(m->text))
            len = sizeof(m->text) - 1;
        memcpy(m->text, p, len);
        m->text[len] = '\0';
    }
    unpacked_free(z);
    return rc;
}
