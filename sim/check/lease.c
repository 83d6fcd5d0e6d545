/* sim/check/lease.c: the `serial-resource` checker for the lease
 * protocol's logs (events.h): were the resource's updates serial, as the
 * lock promised?
 *
 * Design notes.
 *  1. The log grammar (protocols/lease.c note 6): a header "lease node=I
 *     nodes=N role=R fencing=F"; the lock service logs "g W TOKEN"
 *     (granted to W), the storage "r W TOKEN V" (served W a read of V),
 *     "a W TOKEN V" (applied W's write of V) and "j W TOKEN" (rejected);
 *     "full" ends a log that grew too long.
 *  2. The resource is a counter that each holder of the lock reads and
 *     writes back incremented, so the storage's applied writes, in its
 *     log's order, must be 1, 2, 3, ...: a write of anything but the
 *     previous value + 1 is a violation `lost-update` (two holders read
 *     the same value and one increment overwrote the other).
 *  3. `stale-write`: an applied write whose token is below one the storage
 *     had already served (read or write): a holder whose lease had gone to
 *     someone else still wrote.  `ungranted`: an applied write under a
 *     token the lock service never granted to that worker.  `bad-read`: a
 *     read that returned anything but the last applied value (the storage
 *     itself lost a write).  `reused-token`: the lock service granted one
 *     token twice.
 *  4. Valid needs at least one applied write and no violation; unknown when
 *     the storage's or the lock service's log is missing. */
#include "sim/check/events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_PER_KIND 3

enum { V_LOST, V_STALE, V_UNGRANTED, V_BAD_READ, V_REUSED, V_KINDS };
G_STATIC_ASSERT(V_KINDS <= FL_FINDINGS_KINDS);
static const char *const kind_names[] = { "lost-update", "stale-write", "ungranted", "bad-read", "reused-token" };

/* The role named in @text's header, or NULL. */
static char *header_role(const char *text)
{
    const char *end = strchr(text, '\n');
    g_autofree char *h = g_strndup(text, end ? (gsize)(end - text) : strlen(text));
    if (!g_str_has_prefix(h, "lease "))
        return NULL;
    const char *r = strstr(h, " role=");
    if (!r)
        return NULL;
    r += 6;
    return g_strndup(r, strcspn(r, " "));
}

static gboolean bad_line(const char *name, guint32 node, guint line, const char *expected, const char *l,
                         GError **err)
{
    g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: node %u's log, line %u: expected %s: \"%s\"", name,
                node, line, expected, l);
    return FALSE;
}

/* Reads the lock service's grants into @grants (token -> worker + 1). */
static gboolean parse_lock(const char *text, guint32 node, guint32 nodes, const char *name, GHashTable *grants,
                           FlFindings *f, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long w, t;
        int used = 0;
        if (l[0] == '\0' || strcmp(l, "full") == 0)
            continue;
        if (sscanf(l, "g %llu %llu%n", &w, &t, &used) != 2 || l[used] != '\0' || w >= nodes || t == 0)
            return bad_line(name, node, k + 1, "\"g WORKER TOKEN\"", l, err);
        guint64 *key = g_new(guint64, 1);
        *key = t;
        if (g_hash_table_contains(grants, key)) {
            fl_findings_add(f, V_REUSED, "token %llu was granted twice (the second time to node %llu)", t, w);
            g_free(key);
            continue;
        }
        g_hash_table_insert(grants, key, GUINT_TO_POINTER((guint)w + 1));
    }
    return TRUE;
}

typedef struct {
    guint reads, writes, rejected;
    guint64 value;
} StorageSeen;

static gboolean parse_storage(const char *text, guint32 node, guint32 nodes, const char *name,
                              GHashTable *grants, FlFindings *f, StorageSeen *seen, GError **err)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint64 value = 0, max_token = 0;
    for (guint k = 1; lines[k]; k++) {
        const char *l = lines[k];
        unsigned long long w, t, v;
        int used = 0;
        if (l[0] == '\0' || strcmp(l, "full") == 0)
            continue;
        if (sscanf(l, "j %llu %llu%n", &w, &t, &used) == 2 && l[used] == '\0' && w < nodes) {
            seen->rejected++;
            continue;
        }
        char what = l[0];
        if ((what != 'r' && what != 'a') || sscanf(l + 1, " %llu %llu %llu%n", &w, &t, &v, &used) != 3 ||
            l[1 + used] != '\0' || w >= nodes)
            return bad_line(name, node, k + 1, "\"r W TOKEN V\", \"a W TOKEN V\" or \"j W TOKEN\"", l, err);
        if (what == 'r') {
            seen->reads++;
            if (v != value)
                fl_findings_add(f, V_BAD_READ, "node %llu read %llu (token %llu) while the last write applied %"
                                G_GUINT64_FORMAT, w, v, t, value);
        } else {
            seen->writes++;
            if (v != value + 1)
                fl_findings_add(f, V_LOST, "node %llu wrote %llu (token %llu) over %" G_GUINT64_FORMAT
                                ": %s", w, v, t, value,
                                v <= value ? "an increment made under a later lock was overwritten"
                                           : "the resource skipped values");
            if (t < max_token)
                fl_findings_add(f, V_STALE, "node %llu's write with token %llu was applied after the storage "
                                "had served token %" G_GUINT64_FORMAT, w, t, max_token);
            guint64 key = t;
            guint holder = grants ? GPOINTER_TO_UINT(g_hash_table_lookup(grants, &key)) : (guint)w + 1;
            if (holder != (guint)w + 1)
                fl_findings_add(f, V_UNGRANTED, "node %llu wrote with token %llu, which the lock service %s", w, t,
                                holder ? "granted to another node" : "never granted");
            value = v;
        }
        max_token = MAX(max_token, t);
    }
    seen->value = value;
    return TRUE;
}

FlVerdict fl_check_lease(const FlEventLogs *logs, GString *report, json_t **json_out, GError **err)
{
    FlFindings f = { .names = kind_names, .shown_per_kind = SHOWN_PER_KIND,
                     .report = report ? g_string_new(NULL) : NULL,
                     .listed = json_out ? json_array() : NULL };
    g_autoptr(GHashTable) grants = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    StorageSeen seen = { 0 };
    FlVerdict verdict = FL_VERDICT_ERROR;
    int lock = -1, storage = -1;
    for (guint32 i = 0; i < logs->nodes; i++) {
        if (!logs->text[i])
            continue;
        g_autofree char *role = header_role(logs->text[i]);
        if (!role) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: node %u's log is not a lease log (expected \"lease node=I nodes=N role=R ...\")",
                        logs->name, i);
            goto out;
        }
        if (strcmp(role, "lock") == 0)
            lock = (int)i;
        else if (strcmp(role, "storage") == 0)
            storage = (int)i;
    }
    /* The grants first: the storage's writes are judged against them. */
    if (lock >= 0 && !parse_lock(logs->text[lock], (guint32)lock, logs->nodes, logs->name, grants, &f, err))
        goto out;
    if (storage >= 0 && !parse_storage(logs->text[storage], (guint32)storage, logs->nodes, logs->name,
                                       lock >= 0 ? grants : NULL, &f, &seen, err))
        goto out;
    guint bad = 0;
    for (int k = 0; k < V_KINDS; k++)
        bad += f.counts[k];
    gboolean missing = lock < 0 || storage < 0;
    verdict = bad ? FL_VERDICT_INVALID : missing || !seen.writes ? FL_VERDICT_UNKNOWN : FL_VERDICT_VALID;
    if (report) {
        g_string_append(report, f.report->str);
        if (f.hidden)
            g_string_append_printf(report, "... and %u more violations\n", f.hidden);
        g_string_append_printf(report, "%u grants, %u reads, %u writes applied (the resource ends at %" G_GUINT64_FORMAT
                               "), %u accesses rejected", g_hash_table_size(grants), seen.reads, seen.writes,
                               seen.value, seen.rejected);
        if (missing)
            g_string_append_printf(report, ", the %s log missing", lock < 0 ? "lock service's" : "storage's");
        g_string_append(report, "; ");
        if (bad) {
            for (int k = 0; k < V_KINDS; k++)
                if (f.counts[k])
                    g_string_append_printf(report, "%u %s ", f.counts[k], kind_names[k]);
            g_string_append(report, "violations\n");
        } else {
            g_string_append(report, "every update serial, under a lease granted to its writer\n");
        }
    }
    if (json_out) {
        json_t *j = fl_events_verdict_json(verdict, "serial-resource");
        json_object_set_new(j, "grants", json_integer(g_hash_table_size(grants)));
        json_object_set_new(j, "reads", json_integer(seen.reads));
        json_object_set_new(j, "writes", json_integer(seen.writes));
        json_object_set_new(j, "rejected", json_integer(seen.rejected));
        json_object_set_new(j, "final_value", json_integer((json_int_t)seen.value));
        for (int k = 0; k < V_KINDS; k++)
            json_object_set_new(j, kind_names[k], json_integer(f.counts[k]));
        json_object_set_new(j, "violations", f.listed);
        f.listed = NULL;
        *json_out = j;
    }
out:
    if (f.listed)
        json_decref(f.listed);
    if (f.report)
        g_string_free(f.report, TRUE);
    return verdict;
}
