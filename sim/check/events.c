/* sim/check/events.c: see events.h.
 *
 * Design notes.
 *  1. The `events` model exists for the loader: it names the operations
 *     (step, read) and checks the shapes of their values, so pairing and
 *     process rules are those of every history.
 *  2. A log is taken from an ok final read whose text starts with a
 *     header naming its node; two logs of one node are an error (a node
 *     is read once), and so is a header naming a node outside 0..nodes-1
 *     or two headers disagreeing on nodes.  Which node answered is read
 *     from the text, not from the event's "node" field, so that a history
 *     written elsewhere needs nothing but the texts. */
#include "sim/check/events.h"
#include "sim/check/history.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { F_STEP, F_READ };
static const char *const events_ops[] = { "step", "read", NULL };

static gboolean events_parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok, GString *why)
{
    if (op->f == F_STEP) {
        if (!ok && v->kind != FL_VAL_INT) {
            g_string_append_printf(why, "expected a step's id (an integer), got %s", fl_val_kind_name(v));
            return FALSE;
        }
        if (ok) {
            const FlVal *id = v->kind == FL_VAL_MAP ? fl_val_get(v, "id") : NULL;
            const FlVal *val = v->kind == FL_VAL_MAP ? fl_val_get(v, "value") : NULL;
            if (v->kind != FL_VAL_INT && (!id || id->kind != FL_VAL_INT || !val || val->kind != FL_VAL_INT)) {
                g_string_append(why, "expected an ok step's {\"id\": integer, \"value\": integer}");
                return FALSE;
            }
        }
        return TRUE;
    }
    if (ok && v->kind != FL_VAL_STR && v->kind != FL_VAL_NULL) {
        g_string_append_printf(why, "expected a node's log (a string) or null, got %s", fl_val_kind_name(v));
        return FALSE;
    }
    return TRUE;
}

static const FlModel events_model = {
    .name = "events",
    .ops = events_ops,
    .readonly_ops = 1u << F_READ,
    .parse = events_parse,
};

static const char *const consistencies[] = { "happens-before", "one-leader", "consistent-cut", "mutual-exclusion", "serial-resource", "membership", "validity",
                                              "agreement", "integrity", "fifo-order", "causal-order",
                                              "total-order", NULL };

void fl_findings_add(FlFindings *f, int kind, const char *fmt, ...)
{
    g_assert(kind >= 0 && kind < FL_FINDINGS_KINDS);
    f->counts[kind]++;
    gboolean show = f->report && f->shown[kind] < f->shown_per_kind;
    gboolean list = f->listed && json_array_size(f->listed) < FL_FINDINGS_LISTED;
    if (!show && !list) {
        f->hidden++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (show) {
        f->shown[kind]++;
        g_string_append_printf(f->report, "%s: %s\n", f->names[kind], text);
    } else {
        f->hidden++;
    }
    if (list)
        json_array_append_new(f->listed, json_pack("{s:s,s:s}", "kind", f->names[kind], "text", text));
}

json_t *fl_events_verdict_json(FlVerdict verdict, const char *consistency)
{
    json_t *j = json_object();
    json_object_set_new(j, "valid", verdict == FL_VERDICT_UNKNOWN ? json_string("unknown")
                                                                  : json_boolean(verdict == FL_VERDICT_VALID));
    json_object_set_new(j, "model", json_string("events"));
    json_object_set_new(j, "consistency", json_string(consistency));
    json_object_set_new(j, "verdict", json_string(verdict == FL_VERDICT_VALID     ? "valid"
                                                  : verdict == FL_VERDICT_INVALID ? "invalid"
                                                                                  : "unknown"));
    return j;
}

const char *const *fl_events_consistencies(void)
{
    return consistencies;
}

/* Reads "node=I nodes=N" from the header line @line (note 2). */
static gboolean header_nodes(const char *line, gsize len, guint32 *node, guint32 *nodes)
{
    g_autofree char *h = g_strndup(line, len);
    const char *a = strstr(h, " node="), *b = strstr(h, " nodes=");
    if (!a || !b)
        return FALSE;
    char *end;
    unsigned long i = strtoul(a + 6, &end, 10);
    if (end == a + 6 || (*end != ' ' && *end != '\0'))
        return FALSE;
    unsigned long n = strtoul(b + 7, &end, 10);
    if (end == b + 7 || (*end != ' ' && *end != '\0'))
        return FALSE;
    if (n == 0 || n > FL_EVENTS_MAX_NODES || i >= n)
        return FALSE;
    *node = (guint32)i;
    *nodes = (guint32)n;
    return TRUE;
}

FlVerdict fl_check_events(const FlHistorySource *source, const char *consistency, const char *format,
                          GString *report, json_t **json_out, GError **err)
{
    if (json_out)
        *json_out = NULL;
    gboolean election = consistency && strcmp(consistency, "one-leader") == 0;
    gboolean snapshot = consistency && strcmp(consistency, "consistent-cut") == 0;
    gboolean mutex = consistency && strcmp(consistency, "mutual-exclusion") == 0;
    gboolean lease = consistency && strcmp(consistency, "serial-resource") == 0;
    gboolean membership = consistency && strcmp(consistency, "membership") == 0;
    /* The broadcast properties come alone or as a list of them. */
    g_auto(GStrv) props = g_strsplit(consistency ? consistency : "", ",", -1);
    gboolean broadcast = consistency != NULL;
    for (int k = 0; props[k]; k++) {
        g_strstrip(props[k]);
        broadcast &= g_strv_contains(fl_broadcast_properties(), props[k]);
    }
    if (consistency && !election && !snapshot && !mutex && !lease && !membership && !broadcast && strcmp(consistency, "happens-before") != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "unknown consistency \"%s\" for model events (expected happens-before, one-leader, "
                    "consistent-cut, mutual-exclusion, serial-resource, membership, or a list of validity, agreement, integrity, fifo-order, "
                    "causal-order, total-order)", consistency);
        return FL_VERDICT_ERROR;
    }
    FlHistory *h = fl_history_open(source, format, &events_model, err);
    if (!h)
        return FL_VERDICT_ERROR;
    FlEventLogs logs = { .name = source->name };
    FlVerdict verdict = FL_VERDICT_VALID;
    for (guint i = 0; i < h->ops->len; i++) {
        const FlOp *op = &g_array_index(h->ops, FlOp, i);
        if (op->f == F_STEP) {
            logs.steps++;
            logs.steps_ok += op->status == FL_OP_OK;
            continue;
        }
        if (op->status != FL_OP_OK)
            continue;
        const FlVal *rev = fl_reader_event_at(h->reader, op->ret_offset, op->ret_line);
        const FlVal *v = fl_val_get(rev, "value");
        if (!v || v->kind != FL_VAL_STR)
            continue;   /* a node with nothing to show */
        gsize first = 0;
        while (first < v->str.len && v->str.s[first] != '\n')
            first++;
        guint32 node, nodes;
        if (!header_nodes(v->str.s, first, &node, &nodes) || (logs.nodes && nodes != logs.nodes)) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: a node's log must start with \"<protocol> node=I nodes=N\" "
                        "(0 <= I < N <= %d, N the same in every log)", source->name, op->ret_line,
                        FL_EVENTS_MAX_NODES);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        if (logs.text[node]) {
            g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s:%u: a second log of node %u", source->name, op->ret_line, node);
            verdict = FL_VERDICT_ERROR;
            goto out;
        }
        logs.nodes = nodes;
        /* The reader's values live until its next event: keep a copy. */
        logs.text[node] = g_strndup(v->str.s, v->str.len);
        logs.len[node] = v->str.len;
    }
    verdict = election    ? fl_check_election(&logs, report, json_out, err)
              : snapshot  ? fl_check_snapshot(&logs, report, json_out, err)
              : mutex     ? fl_check_mutex(&logs, report, json_out, err)
              : lease     ? fl_check_lease(&logs, report, json_out, err)
              : membership ? fl_check_membership(&logs, report, json_out, err)
              : broadcast ? fl_check_broadcast(&logs, (const char *const *)props, report, json_out, err)
                         : fl_check_clocks(&logs, report, json_out, err);
out:
    for (guint32 k = 0; k < FL_EVENTS_MAX_NODES; k++)
        g_free((char *)logs.text[k]);
    fl_history_free(h);
    return verdict;
}
