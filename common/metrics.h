#pragma once
/*
 * Metrics registry: counters, gauges and latency histograms, updated lock-free from any
 * thread and rendered as Prometheus text (served on HTTP /metrics by metrics_http_start).
 * A metric is identified by name + labels; registering the same pair again returns the same
 * metric, so callers may look them up lazily. Metrics live until the process exits. Names
 * follow Prometheus's conventions (geokv_ prefix, base units, counters end in _total): the
 * integration tests check every /metrics page with promtool.
 */
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric;

/* labels: Prometheus label text without braces, e.g. "app_id=\"3\"", or NULL. Copied. */
struct metric *metric_get(enum metric_kind kind, const char *name, const char *labels,
                          const char *help);
void metric_add(struct metric *m, int64_t v);
void metric_set(struct metric *m, int64_t v);
/* Histograms: records one observation in microseconds; /metrics shows them in seconds as a
 * summary (p50, p99, p999, sum, count), so their names end in _seconds. */
void metric_observe(struct metric *m, int64_t v);
int64_t metric_value(const struct metric *m);
/* Histogram quantile (0 < q < 1), from log-linear buckets: within 1/16 of the true value. */
int64_t metric_quantile(const struct metric *m, double q);

/* Appends every metric in Prometheus text exposition format. */
void metrics_render(struct buf *out);
/* Serves GET /metrics on host:port ("127.0.0.1:9100") from a background thread. */
MUST_CHECK int metrics_http_start(const char *address);
void metrics_http_stop(void);
