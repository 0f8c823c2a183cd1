/*
 * metrics.c: the registry (a mutex-guarded list, touched only to register and render) and
 * lock-free updates (relaxed atomics). Histograms use 16 linear sub-buckets per power of two
 * (HdrHistogram-like), enough for p50/p99/p999 of latencies.
 */
#include "common/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

#define HIST_SUB 16
#define HIST_BUCKETS (64 * HIST_SUB)

struct metric {
    enum metric_kind kind;
    char *name, *labels, *help;
    atomic_int_fast64_t value; /* counter/gauge value; histogram: sum */
    atomic_int_fast64_t count;
    atomic_int_fast64_t *buckets;
    struct metric *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *registry;

struct metric *
metric_get(enum metric_kind kind, const char *name, const char *labels, const char *help)
{
    struct metric *m;
    labels = labels ? labels : "";
    pthread_mutex_lock(&registry_mu);
    for (m = registry; m; m = m->next)
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0)
            break;
    if (m == NULL) {
        m = xcalloc(1, sizeof(*m));
        m->kind = kind;
        m->name = xstrdup(name);
        m->labels = xstrdup(labels);
        m->help = xstrdup(help ? help : "");
        if (kind == METRIC_HISTOGRAM)
            m->buckets = xcalloc(HIST_BUCKETS, sizeof(*m->buckets));
        m->next = registry;
        registry = m;
    }
    pthread_mutex_unlock(&registry_mu);
    return m;
}

void
metric_add(struct metric *m, int64_t v)
{
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

void
metric_set(struct metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

int64_t
metric_value(const struct metric *m)
{
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

/* Bucket of v: exact below HIST_SUB, then 16 linear steps per power of two. */
static int
bucket_of(int64_t v)
{
    int msb, shift;
    if (v < HIST_SUB)
        return v < 0 ? 0 : (int)v;
    msb = 63 - __builtin_clzll((unsigned long long)v);
    shift = msb - 4;
    return (shift + 1) * HIST_SUB + (int)((v >> shift) & (HIST_SUB - 1));
}

/* The largest value that falls in bucket b. */
static int64_t
bucket_upper(int b)
{
    int shift;
    if (b < HIST_SUB)
        return b;
    shift = b / HIST_SUB - 1;
    return ((int64_t)(HIST_SUB + b % HIST_SUB + 1) << shift) - 1;
}

void
metric_observe(struct metric *m, int64_t v)
{
    atomic_fetch_add_explicit(&m->buckets[bucket_of(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

int64_t
metric_quantile(const struct metric *m, double q)
{
    int64_t total = 0, seen = 0, want;
    for (int b = 0; b < HIST_BUCKETS; b++)
        total += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
    if (total == 0)
        return 0;
    want = (int64_t)(q * (double)total);
    if (want >= total)
        want = total - 1;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        if (seen > want)
            return bucket_upper(b);
    }
    return bucket_upper(HIST_BUCKETS - 1);
}

/* Prometheus text: one HELP and TYPE per name, its series together (promtool refuses a name
 * described twice). Histograms are summaries in seconds (observed in microseconds). */
static void
render_one(struct buf *out, const struct metric *m, bool first_of_name)
{
    static const char *types[] = {"counter", "gauge", "summary"};
    static const double qs[] = {0.5, 0.99, 0.999};
    char line[1024];
    const char *open = m->labels[0] ? "{" : "", *close = m->labels[0] ? "}" : "";
    int n;
    if (first_of_name) {
        n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                     types[m->kind]);
        buf_append(out, line, (size_t)n);
    }
    if (m->kind != METRIC_HISTOGRAM) {
        n = snprintf(line, sizeof(line), "%s%s%s%s %lld\n", m->name, open, m->labels, close,
                     (long long)metric_value(m));
        buf_append(out, line, (size_t)n);
        return;
    }
    for (int i = 0; i < 3; i++) {
        n = snprintf(line, sizeof(line), "%s{%s%squantile=\"%g\"} %.6f\n", m->name, m->labels,
                     m->labels[0] ? "," : "", qs[i], (double)metric_quantile(m, qs[i]) / 1e6);
        buf_append(out, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line), "%s_sum%s%s%s %.6f\n%s_count%s%s%s %lld\n", m->name, open,
                 m->labels, close, (double)metric_value(m) / 1e6, m->name, open, m->labels, close,
                 (long long)atomic_load(&m->count));
    buf_append(out, line, (size_t)n);
}

static int
metric_cmp(const void *a, const void *b)
{
    const struct metric *x = *(const struct metric *const *)a,
                        *y = *(const struct metric *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

void
metrics_render(struct buf *out)
{
    struct metric **all = NULL;
    size_t n = 0;
    pthread_mutex_lock(&registry_mu);
    for (struct metric *m = registry; m; m = m->next) {
        all = xrealloc(all, (n + 1) * sizeof(*all));
        all[n++] = m;
    }
    pthread_mutex_unlock(&registry_mu);
    if (n > 0)
        qsort(all, n, sizeof(*all), metric_cmp);
    for (size_t i = 0; i < n; i++)
        render_one(out, all[i], i == 0 || strcmp(all[i - 1]->name, all[i]->name) != 0);
    xfree(all);
}

/* ---- HTTP /metrics (libmicrohttpd, its own thread) ---- */

static struct MHD_Daemon *http_daemon;

static enum MHD_Result
http_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload, size_t *upload_size, void **state)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    struct buf body = BUF_INIT;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(method, "GET") != 0) {
        buf_append(&body, "only GET\n", 9);
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0) {
        buf_append(&body, "see /metrics\n", 13);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        metrics_render(&body);
    }
    resp = MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
    (void)MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    buf_fini(&body);
    return ret;
}

int
metrics_http_start(const char *address)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon - address >= (long)sizeof(host))
        return ERR_INVALID_ARG;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return ERR_INVALID_ARG;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    http_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, ntohs(sa.sin_port), NULL, NULL,
                                   http_answer, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    return http_daemon ? 0 : ERR_NETWORK;
}

void
metrics_http_stop(void)
{
    if (http_daemon)
        MHD_stop_daemon(http_daemon);
    http_daemon = NULL;
}
