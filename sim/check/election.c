/* sim/check/election.c: the `one-leader` checker for the election
 * protocols' logs (events.h).
 *
 * Design notes.
 *  1. The log grammar (protocols/election/election.h): a header
 *     "election node=I nodes=N algo=NAME", then "v TIME EPOCH LEADER" (the
 *     node follows LEADER, elected in EPOCH; LEADER == I claims it),
 *     "n TIME" (no leader), "up TIME" (restarted), "full".
 *  2. Safety, one leader per epoch: over every log, each epoch names one
 *     leader.  Two nodes that claim one epoch, or two followers of one
 *     epoch that name different leaders, are a violation: within an epoch
 *     the cluster had two leaders (a split brain).  An epoch is the
 *     protocol's stable period: a leader holds it until another is
 *     elected in a larger one.
 *  3. Agreement once stable: the final reads come after every fault has
 *     healed and the cluster has settled, so each node's last view must be
 *     the same epoch and leader, that leader's own last view must claim it,
 *     and it must be the highest id (both algorithms elect the largest
 *     live id, and at the end every node is live: a node that did not
 *     answer the final read leaves the verdict unknown). */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 6
#define LISTED_MAX 100

typedef struct {
    guint64 time, epoch;
    gint64 leader;       /* -1: none; -2: restarted */
} View;

FlVerdict fl_check_election(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    guint32 n = logs->nodes;
    g_autoptr(GHashTable) epochs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    g_autoptr(GString) shown = g_string_new(NULL);
    json_t *listed = json_array();
    guint split = 0, views = 0, missing = 0, full = 0, claims = 0;
    View last[FL_EVENTS_MAX_NODES];
    FlVerdict verdict = FL_VERDICT_ERROR;
    for (guint32 i = 0; i < n; i++) {
        if (!logs->text[i]) {
            missing++;
            continue;
        }
        g_auto(GStrv) lines = g_strsplit(logs->text[i], "\n", -1);
        if (!g_str_has_prefix(lines[0], "election ")) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u's log is not an election log "
                        "(it starts \"%s\")", logs->name, i, lines[0]);
            goto out;
        }
        last[i] = (View){ .leader = -1 };
        for (guint k = 1; lines[k]; k++) {
            const char *l = lines[k];
            unsigned long long t, e;
            long long who;
            char tail;
            if (l[0] == '\0')
                continue;
            if (strcmp(l, "full") == 0) {
                full++;
                break;
            }
            if (sscanf(l, "v %llu %llu %lld%c", &t, &e, &who, &tail) == 3 && who >= 0 && who < n) {
                views++;
                last[i] = (View){ t, e, who };
                claims += who == i;
                gint64 key = (gint64)e;
                gint64 *seen = g_hash_table_lookup(epochs, &key);
                if (!seen) {
                    gint64 *k2 = g_new(gint64, 1), *v = g_new(gint64, 1);
                    *k2 = key;
                    *v = who * FL_EVENTS_MAX_NODES + i;   /* the leader, and who first named it */
                    g_hash_table_insert(epochs, k2, v);
                } else if (*seen / FL_EVENTS_MAX_NODES != who) {
                    split++;
                    g_autofree char *text = g_strdup_printf(
                        "epoch %llu has two leaders: node %" G_GINT64_FORMAT " names %" G_GINT64_FORMAT
                        ", node %u names %lld (at its time %.3f s)", e, *seen % FL_EVENTS_MAX_NODES,
                        *seen / FL_EVENTS_MAX_NODES, i, who, (double)t / 1e9);
                    if (split <= SHOWN_MAX)
                        g_string_append_printf(shown, "one leader per epoch: %s\n", text);
                    if (json_array_size(listed) < LISTED_MAX)
                        json_array_append_new(listed, json_pack("{s:s,s:s}", "kind", "one leader per epoch", "text", text));
                }
            } else if (sscanf(l, "n %llu%c", &t, &tail) == 1) {
                last[i] = (View){ t, 0, -1 };
            } else if (sscanf(l, "up %llu%c", &t, &tail) == 1) {
                last[i] = (View){ t, 0, -2 };
            } else {
                g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: node %u's log, line %u: expected \"v TIME EPOCH LEADER\" (0 <= LEADER < %u), "
                            "\"n TIME\", \"up TIME\" or \"full\": \"%s\"", logs->name, i, k + 1, n, l);
                goto out;
            }
        }
    }
    /* Note 3. */
    gboolean judged = n > 0 && missing == 0 && full == 0;
    guint disagree = 0;
    gint64 final_leader = -1;
    guint64 final_epoch = 0;
    if (judged) {
        final_leader = last[0].leader;
        final_epoch = last[0].epoch;
        for (guint32 i = 0; i < n; i++) {
            if (last[i].leader == final_leader && last[i].epoch == final_epoch && last[i].leader >= 0)
                continue;
            disagree++;
        }
        if (final_leader != (gint64)n - 1)
            disagree += disagree == 0;
        if (disagree) {
            g_autoptr(GString) t = g_string_new("at the end the nodes do not all follow the highest id (");
            g_string_append_printf(t, "%u) in one epoch:", n - 1);
            for (guint32 i = 0; i < n; i++) {
                if (last[i].leader >= 0)
                    g_string_append_printf(t, " node %u follows %" G_GINT64_FORMAT " (epoch %" G_GUINT64_FORMAT ");",
                                           i, last[i].leader, last[i].epoch);
                else
                    g_string_append_printf(t, " node %u has no leader%s;", i, last[i].leader == -2 ? " (restarted)" : "");
            }
            g_string_append_printf(shown, "agreement: %s\n", t->str);
            json_array_append_new(listed, json_pack("{s:s,s:s}", "kind", "agreement", "text", t->str));
        }
    }
    verdict = split || disagree ? FL_VERDICT_INVALID : judged ? FL_VERDICT_VALID : FL_VERDICT_UNKNOWN;
    if (report) {
        g_string_append(report, shown->str);
        if (split > SHOWN_MAX)
            g_string_append_printf(report, "... and %u more epochs with two leaders\n", split - SHOWN_MAX);
        g_string_append_printf(report, "%u nodes, %u views logged, %u epochs, %u claims of leadership; ",
                               n, views, g_hash_table_size(epochs), claims);
        g_string_append_printf(report, "one leader per epoch: %s; ", split ? "BROKEN" : "holds");
        if (!judged)
            g_string_append_printf(report, "agreement: not judged (%u logs missing, %u full)\n", missing, full);
        else if (disagree)
            g_string_append(report, "agreement: BROKEN\n");
        else
            g_string_append_printf(report, "agreement: every node follows node %" G_GINT64_FORMAT
                                   " (epoch %" G_GUINT64_FORMAT ")\n", final_leader, final_epoch);
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "one-leader");
        json_object_set_new(j, "nodes", json_integer(n));
        json_object_set_new(j, "logs_missing", json_integer(missing));
        json_object_set_new(j, "views", json_integer(views));
        json_object_set_new(j, "epochs", json_integer(g_hash_table_size(epochs)));
        json_object_set_new(j, "claims", json_integer(claims));
        json_object_set_new(j, "split_epochs", json_integer(split));
        json_object_set_new(j, "agreement", judged ? json_boolean(!disagree) : json_null());
        json_object_set_new(j, "final_leader", json_integer(final_leader));
        json_object_set_new(j, "final_epoch", json_integer((json_int_t)final_epoch));
        json_object_set_new(j, "violations", listed);
        listed = NULL;
        *json_out = j;
    }
out:
    if (listed)
        json_decref(listed);
    return verdict;
}
