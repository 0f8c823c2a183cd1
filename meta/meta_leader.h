#pragma once
/*
 * meta_leader: leader election among the meta servers of one cluster through the store.
 *
 * Every meta creates an ephemeral sequential node <cluster_path>/leader/n_<seq> whose data is
 * its RPC address; the lowest sequence is the leader. Each check re-reads the children with a
 * watch set, so any change (a meta joining, dying or leaving) triggers the owner's next check.
 * A meta that became leader stays leader until its session ends (the process then exits: a
 * meta that lost its session cannot know whether another one took over).
 *
 * Threads: the owner's thread (the meta loop). Watch events arrive through the store's event
 * callback; the owner posts a meta_leader_check for each.
 */
#include <stdbool.h>

#include "common/err.h"

struct meta_store;
struct meta_leader;

/* store is borrowed; cluster_path and address are copied. */
struct meta_leader *meta_leader_create(struct meta_store *store, const char *cluster_path,
                                       const char *address);
/* Frees the handle (the election node goes with the store's session). */
void meta_leader_destroy(struct meta_leader *l);

/* Creates the leader directory if needed and this meta's election node, then checks.
 * Store errors (ERR_ZK...). */
MUST_CHECK int meta_leader_join(struct meta_leader *l);
/*
 * Re-reads the election nodes (setting a watch) and updates who leads. *became_leaderp is
 * set to true the one time this meta turns leader. ERR_INVALID_STATE if this meta's own node is
 * gone (its session ended: the caller must stop serving); store errors otherwise (the caller
 * retries later).
 */
MUST_CHECK int meta_leader_check(struct meta_leader *l, bool *became_leaderp);

bool meta_leader_is_leader(const struct meta_leader *l);
/* The leader's address ("" while unknown). Borrowed, valid until the next check. */
const char *meta_leader_address(const struct meta_leader *l);
/* This meta's election node path ("" before join). Borrowed. */
const char *meta_leader_node(const struct meta_leader *l);
