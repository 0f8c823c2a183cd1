/*
 * meta_metrics.c: the leader's view of the cluster on /metrics, refreshed by the cron once a
 * second: partitions per table by health and replica servers by state. Only the leader knows
 * them; geokv_meta_leader says which meta that is (alert rules join on it).
 */
#include <stdio.h>

#include "common/metrics.h"
#include "meta/meta_state.h"
#include "meta/meta_state_int.h"

#define METRICS_INTERVAL_MS 1000

enum health { HEALTHY, DEGRADED, UNWRITABLE, NHEALTH };

static enum health
partition_health(const struct meta_state *st, const struct meta_app *app,
                 const struct meta_partition *part, int64_t now_ms)
{
    const struct meta_node *primary = meta_node_find(st, part->config.primary);
    if (primary == NULL || !meta_node_usable(st, primary, now_ms))
        return UNWRITABLE;
    return meta_partition_healthy(st, app, part, now_ms) ? HEALTHY : DEGRADED;
}

void
meta_state_metrics(struct meta_state *st, int64_t now_ms)
{
    static const char *names[NHEALTH] = {"healthy", "degraded", "unwritable"};
    char labels[GEOKV_APP_NAME_MAX + 64];
    int64_t alive = 0;

    if (now_ms - st->last_metrics_ms < METRICS_INTERVAL_MS)
        return;
    st->last_metrics_ms = now_ms;
    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        int64_t count[NHEALTH] = {0};
        for (uint32_t k = 0; app->status == APP_AVAILABLE && k < app->partition_count; k++)
            count[partition_health(st, app, &app->parts[k], now_ms)]++;
        for (int h = 0; h < NHEALTH; h++) {
            snprintf(labels, sizeof(labels), "app_id=\"%u\",app=\"%s\",health=\"%s\"", app->app_id,
                     app->name, names[h]);
            metric_set(metric_get(METRIC_GAUGE, "geokv_meta_partitions", labels,
                                  "partitions of each table by health: degraded = short of "
                                  "replicas, learning or a member not beaconing; unwritable "
                                  "= no usable primary (leader only)"),
                       count[h]);
        }
    }
    for (size_t i = 0; i < st->nnodes; i++)
        alive += meta_node_usable(st, &st->nodes[i], now_ms);
    metric_set(metric_get(METRIC_GAUGE, "geokv_meta_replica_servers", "state=\"alive\"",
                          "replica servers known to the leader, by state"),
               alive);
    metric_set(metric_get(METRIC_GAUGE, "geokv_meta_replica_servers", "state=\"dead\"",
                          "replica servers known to the leader, by state"),
               (int64_t)st->nnodes - alive);
}
