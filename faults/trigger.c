/* trigger: a crash aimed at a protocol event instead of a time.
 *
 * Notes.
 * 1. Why.  A crash at a random time lands, most of the time, where the
 *    protocol is idle or where it is easy: a scenario that means to show
 *    "the coordinator dies after PREPARE and before the decision" shows it
 *    on the seeds where the time happens to fall in that window.  A trigger
 *    waits for the event itself (the node sends a message of a given kind,
 *    takes a given role, or writes to its disk) and crashes the node right
 *    there, on every seed.
 * 2. Events.  `on: "send"` matches a message the protocol sends to another
 *    server, named by the protocol's msg_kind hook ("PREPARE", "Promise";
 *    `faultline list protocols` shows each protocol's kinds); `"*"` matches
 *    any.  Replies to clients are not messages of the protocol and never
 *    match.  `on: "role"` matches fl_role declaring the given role (a new
 *    one: re-declaring the current role is not an event).  `on: "disk-write"`
 *    matches a write or append to the named file (any, by default), before
 *    the protocol could sync it.  `on: "reply"` matches an acknowledgement
 *    to a client (an ok reply; a redirect or a failure promises nothing):
 *    the moment a promise was made, where every bug that acknowledges what
 *    is not yet safe (unsynced, unreplicated, committed by a rule that does
 *    not make it durable, read from a state that may be stale) is exposed
 *    by losing the node that made it.
 * 3. When the crash happens (sim/world.c note 4).  Inside the handler that
 *    made the event: the event itself stands (the message is in flight, the
 *    role was declared, the write is in the cache), every later effect of
 *    that handler is lost (a broadcast stops at the matched copy; a sync
 *    that would have followed the write never happens), and the node is
 *    down when the handler returns.  So "crash between a write and its
 *    sync" needs nothing more: the unsynced write is gone at the restart.
 *    `when: "before"` (send only) crashes the node right before the matched
 *    message leaves instead: it is lost with the node.  `in_handler: k`
 *    matches only the k-th matching send of one handler call, which is how
 *    a scenario says "in the middle of a broadcast": `{"message": "COMMIT",
 *    "in_handler": 2, "when": "before"}` is a 2PC coordinator that told one
 *    participant the decision and died before telling the second, whatever
 *    the seed.
 * 4. `mode: "torn"` (disk-write only): the matched write reached the disk in
 *    part, as a power cut in the middle of it would leave it.  For an
 *    append, the file keeps everything before the write and a random
 *    prefix (possibly empty, never all) of the write itself; for a rewrite,
 *    a random prefix of the new content over the old durable bytes.  Cut
 *    points come from the faults' stream.  A protocol that checksums its
 *    records sees a torn tail at recovery and drops it.
 * 5. Counting and firing.  The trigger arms at `at` and disarms at `until`
 *    (or after `for`), or at the end.  It counts the events that match, on
 *    every selected node together, from arming on, and fires on the
 *    `count`-th (default 1), once: one trigger is one crash, so a scenario
 *    says exactly what it means; several crashes are several triggers.
 *    The node selector is resolved when the trigger arms, except "leader",
 *    which is read at each event (whoever leads then).
 *    `after_role: true` counts per node instead, from that node's latest
 *    role change seen while armed, and ignores the events of a node whose
 *    role has not changed since: "the k-th message (or acknowledgement) a
 *    node sends after it takes a new role".  A node that just took over
 *    acts on state it inherited (an old leader's log, a view's
 *    certificates, a predecessor's backup), and bugs in that hand-over
 *    (Raft's Figure 8, a new primary serving before it caught up, a view
 *    change that forgets a commit) show in its first few actions, which a
 *    count from a random arming time almost never hits.  `returning: true`
 *    narrows it to a node that takes back a role it held before (at arming
 *    or since): a deposed leader elected again, an old primary restored,
 *    acting on state from its earlier tenure that others have overtaken
 *    (Raft's Figure 8 is a re-elected leader committing its old entries).
 * 6. Restart.  With `restart_after`, the node restarts that long after the
 *    crash ("0s": at once, as soon as the crash has happened); without it,
 *    it stays down (the liveness phase, if any, restarts it).
 * 7. Trace.  "arm"/"disarm" events frame the window; the firing is a
 *    "start" event that names what matched (node, event, kind, peer or
 *    file, the match number), then the engine's crash line; a restart is
 *    the "stop" event.  In metrics.json the interval is the node's
 *    downtime. */
#include "faults/links.h"

#include <string.h>

enum { ON_SEND = 1, ON_ROLE, ON_DISK_WRITE, ON_REPLY };
enum { MODE_LOSE_UNSYNCED = 0, MODE_TORN };

typedef struct Trigger {
    FlSelector node;
    int on;
    const char *name;       /* message kind, role or file; "*" matches any (owned copy) */
    int64_t count;
    int64_t in_handler;     /* 0: any; else only the k-th match of one handler call */
    bool before;            /* send: crash before the message leaves (it is lost) */
    bool after_role;        /* note 5: count per node from its latest role change */
    bool returning;         /* note 5: only role changes back to a role held before */
    int mode;
    bool restarts;
    FlDuration restart_after;
    /* At run time. */
    bool armed, fired;
    int64_t seen;           /* matching events since arming */
    uint64_t handler;       /* the handler call of the last match, and its matches */
    int64_t in_this;
    bool *nodes;            /* selected nodes, resolved at arming (not for "leader") */
    int64_t *since;         /* after_role: per node, matches since its role changed, or -1 */
    GPtrArray **held;       /* returning: per node, the roles it held since arming (owned copies) */
    uint32_t nnodes;
    uint32_t victim;
    GByteArray *before_bytes; /* torn: the file's durable bytes before the matched write */
    GByteArray *after;      /* torn: what reads saw right after it */
    size_t write_at;        /* torn: where the matched write starts in `after` */
    char *file;             /* torn: the file */
    GArray *scratch;        /* "leader" selection at each event */
} Trigger;

static const char *const on_names[] = { NULL, "send", "role", "disk-write", "reply" };

/* True when @name is one of the "a|b|c" list @list. */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static bool trigger_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                          const FlScenario *sc)
{
    Trigger *t = f->state;
    const char *on, *then, *mode, *when, *name = NULL;
    if (json_object_get(spec, "node")) {
        if (!fl_fault_node_field(jv, spec, path, "node", out, sc, &t->node))
            return false;
    } else {
        t->node.kind = FL_SEL_ALL;
        json_object_set_new(out, "node", json_string("*"));
    }
    if (!fl_jv_string(jv, spec, path, "on", out, true, NULL, "send|role|disk-write|reply", &on) ||
        !fl_jv_string(jv, spec, path, "then", out, false, "crash", "crash", &then) ||
        !fl_jv_int(jv, spec, path, "count", out, false, 1, 1, 1000000000, &t->count) ||
        !fl_jv_int(jv, spec, path, "in_handler", out, false, 0, 0, 1000000, &t->in_handler) ||
        !fl_jv_string(jv, spec, path, "when", out, false, "after", "after|before", &when) ||
        /* Written out only when given, so that older schedules read as before. */
        !fl_jv_bool(jv, spec, path, "after_role", json_object_get(spec, "after_role") ? out : NULL,
                    false, false, &t->after_role) ||
        !fl_jv_bool(jv, spec, path, "returning", json_object_get(spec, "returning") ? out : NULL,
                    false, false, &t->returning) ||
        !fl_jv_string(jv, spec, path, "mode", out, false, "lose-unsynced",
                      "lose-unsynced|torn", &mode))
        return false;
    t->on = strcmp(on, "send") == 0   ? ON_SEND
            : strcmp(on, "role") == 0 ? ON_ROLE
            : strcmp(on, "reply") == 0 ? ON_REPLY
                                       : ON_DISK_WRITE;
    t->mode = strcmp(mode, "torn") == 0 ? MODE_TORN : MODE_LOSE_UNSYNCED;
    t->before = strcmp(when, "before") == 0;
    if (t->before && t->on != ON_SEND)
        return fl_jv_errorf(jv, path, "when", "\"before\" needs \"on\": \"send\"");
    if (t->mode == MODE_TORN && t->on != ON_DISK_WRITE)
        return fl_jv_errorf(jv, path, "mode", "\"torn\" needs \"on\": \"disk-write\"");
    if (t->returning && !t->after_role)
        return fl_jv_errorf(jv, path, "returning", "needs \"after_role\": true");
    if (t->after_role && t->on == ON_ROLE)
        return fl_jv_errorf(jv, path, "after_role", "counts events after a role change: not with "
                            "\"on\": \"role\"");
    /* Each event names its object with its own field; the others are errors.
     * A reply has none: any acknowledgement matches. */
    static const char *const which[] = { NULL, "message", "role", "file", NULL };
    for (int k = ON_SEND; k <= ON_DISK_WRITE; k++)
        if (k != t->on && json_object_get(spec, which[k]))
            return fl_jv_errorf(jv, path, which[k], "only with \"on\": \"%s\"", on_names[k]);
    if (!which[t->on])
        name = "*";
    else if (!fl_jv_string(jv, spec, path, which[t->on], out, t->on == ON_ROLE, "*", NULL, &name))
        return false;
    if (!*name)
        return fl_jv_errorf(jv, path, which[t->on], "expected a name or \"*\"");
    if (t->on == ON_SEND && strcmp(name, "*") != 0) {
        const FlProtocol *p = sc->protocol;
        if (!p->msg_kind || !p->kinds)
            return fl_jv_errorf(jv, path, "message",
                                "protocol %s does not name its message kinds: only \"*\" "
                                "(any message) can match", p->name);
        if (!in_list(p->kinds, name))
            return fl_jv_errorf(jv, path, "message",
                                "protocol %s has no message kind \"%s\" (expected one of: %s)",
                                p->name, name, p->kinds);
    }
    t->name = g_strdup(name);
    if (json_object_get(spec, "restart_after")) {
        if (!fl_jv_duration(jv, spec, path, "restart_after", out, true, 0, 0, &t->restart_after))
            return false;
        t->restarts = true;
    }
    return true;
}

/* Does @ev's node fall under the selector now? */
static bool selected(Trigger *t, FlWorld *w, uint32_t node)
{
    if (t->node.kind == FL_SEL_LEADER) {
        g_array_set_size(t->scratch, 0);
        fl_world_select(w, &t->node, t->scratch);
        return t->scratch->len == 1 && g_array_index(t->scratch, uint32_t, 0) == node;
    }
    return node < t->nnodes && t->nodes[node];
}

static void restart_cb(FlWorld *w, void *ctx, uint64_t node)
{
    FlFault *f = ctx;
    if (fl_world_node_up(w, (uint32_t)node))
        return;   /* something else restarted it already */
    fl_world_restart(w, (uint32_t)node);
    char text[48];
    g_snprintf(text, sizeof text, "restart node %u", (uint32_t)node);
    fl_world_fault_event(w, f->index, "trigger", "stop", text);
}

/* Note 4: runs after the handler returned and the node went down. */
static void tear_cb(FlWorld *w, void *ctx, uint64_t node)
{
    FlFault *f = ctx;
    Trigger *t = f->state;
    FlDisk *disk = fl_world_disk(w, (uint32_t)node);
    guint i;
    if (!fl_disk_find(disk, t->file, &i))
        return;
    GByteArray *d = fl_disk_durable(disk, i);
    size_t wlen = t->after->len - t->write_at;
    size_t keep = wlen ? (size_t)fl_rng_below(fl_world_fault_rng(w), wlen) : 0;
    size_t end = t->write_at + keep;
    /* The new bytes up to the cut, then whatever the old durable content
     * had beyond it (a rewrite); an append keeps all that preceded it. */
    size_t total = end;
    if (t->before_bytes->len > total && t->write_at == 0)
        total = t->before_bytes->len;
    g_byte_array_set_size(d, 0);
    g_byte_array_append(d, t->after->data, (guint)end);
    if (total > end)
        g_byte_array_append(d, t->before_bytes->data + end, (guint)(total - end));
    fl_disk_crash(disk);   /* the node is down: what recover reads is the torn file */
    g_autofree char *text = g_strdup_printf("node %u file %s: kept %zu of the write's %zu bytes",
                                            (uint32_t)node, t->file, keep, wlen);
    fl_world_fault_event(w, f->index, "trigger", "torn", text);
}

static void capture_torn(Trigger *t, FlWorld *w, const FlProtoEvent *ev)
{
    FlDisk *disk = fl_world_disk(w, ev->node);
    guint i;
    size_t len = 0;
    const uint8_t *now = fl_disk_do_view(disk, ev->name, &len);
    g_byte_array_set_size(t->before_bytes, 0);
    g_byte_array_set_size(t->after, 0);
    if (fl_disk_find(disk, ev->name, &i)) {
        GByteArray *d = fl_disk_durable(disk, i);
        g_byte_array_append(t->before_bytes, d->data, d->len);
    }
    if (now)
        g_byte_array_append(t->after, now, (guint)len);
    t->write_at = ev->append && len >= ev->len ? len - ev->len : 0;
    g_free(t->file);
    t->file = g_strdup(ev->name);
}

static const char *ordinal_suffix(int64_t k)
{
    if (k % 100 >= 11 && k % 100 <= 13)
        return "th";
    return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

static void on_event(FlWorld *w, void *ctx, const FlProtoEvent *ev)
{
    FlFault *f = ctx;
    Trigger *t = f->state;
    if (!t->armed || t->fired)
        return;
    if (t->after_role && ev->kind == FL_PEV_ROLE && ev->node < t->nnodes) {
        /* Note 5: count afresh from this change; with `returning`, only
         * from a return to a role the node held before. */
        bool back = true;
        if (t->returning) {
            GPtrArray *h = t->held[ev->node];
            back = false;
            for (guint i = 0; i < h->len && !back; i++)
                back = strcmp(g_ptr_array_index(h, i), ev->name) == 0;
            if (!back)
                g_ptr_array_add(h, g_strdup(ev->name));
        }
        t->since[ev->node] = back ? 0 : -1;
        return;
    }
    if ((ev->kind == FL_PEV_SEND) != (t->on == ON_SEND) ||
        (ev->kind == FL_PEV_ROLE) != (t->on == ON_ROLE) ||
        (ev->kind == FL_PEV_DISK_WRITE) != (t->on == ON_DISK_WRITE) ||
        (ev->kind == FL_PEV_REPLY) != (t->on == ON_REPLY))
        return;
    if (ev->before != t->before)
        return;   /* each send is seen twice: before and after it left */
    if (strcmp(t->name, "*") != 0 && (!ev->name || strcmp(ev->name, t->name) != 0))
        return;
    if (!selected(t, w, ev->node))
        return;
    if (ev->handler != t->handler) {
        t->handler = ev->handler;
        t->in_this = 0;
    }
    if (++t->in_this != t->in_handler && t->in_handler != 0)
        return;
    if (t->after_role) {
        if (ev->node >= t->nnodes || t->since[ev->node] < 0 || ++t->since[ev->node] < t->count)
            return;
        t->seen = t->since[ev->node];
    } else if (++t->seen < t->count) {
        return;
    }
    t->fired = true;
    t->victim = ev->node;
    g_autoptr(GString) text = g_string_new(NULL);
    g_string_printf(text, "node %u ", ev->node);
    if (ev->kind == FL_PEV_SEND)
        g_string_append_printf(text, "%s %s to %u", t->before ? "was about to send" : "sent",
                               ev->name ? ev->name : "a message", ev->peer);
    else if (ev->kind == FL_PEV_ROLE)
        g_string_append_printf(text, "became %s", ev->name);
    else if (ev->kind == FL_PEV_REPLY)
        g_string_append_printf(text, "acknowledged an operation of client %u", ev->peer);
    else
        g_string_append_printf(text, "%s %zu bytes to %s (unsynced)",
                               ev->append ? "appended" : "wrote", ev->len, ev->name);
    g_string_append_printf(text, " (%" G_GINT64_FORMAT "%s match%s", t->seen,
                           ordinal_suffix(t->seen), t->after_role ? " since its role changed" : "");
    if (t->in_handler)
        g_string_append_printf(text, ", %" G_GINT64_FORMAT "%s of its handler", t->in_this,
                               ordinal_suffix(t->in_this));
    g_string_append_printf(text, "): crash at handler return%s",
                           t->before ? ", the message lost" : "");
    if (t->restarts) {
        char d[32];
        g_string_append_printf(text, ", restart after %s",
                               fl_duration_format(t->restart_after, d));
    }
    fl_world_fault_event(w, f->index, "trigger", "start", text->str);
    fl_world_crash_at_return(w, ev->node);
    /* Both run after the handler has returned and the crash happened; the
     * tear first, so that recover reads the torn file (note 4). */
    if (t->mode == MODE_TORN) {
        capture_torn(t, w, ev);
        fl_world_at(w, fl_world_now(w), tear_cb, f, ev->node);
    }
    if (t->restarts)
        fl_world_at(w, fl_world_now(w) + (FlTime)t->restart_after, restart_cb, f, ev->node);
    /* One crash per trigger (note 5): nothing more to watch. */
    t->armed = false;
    fl_world_remove_event_hook(w, on_event, f);
}

static void free_held(Trigger *t)
{
    for (uint32_t i = 0; t->held && i < t->nnodes; i++)
        g_ptr_array_unref(t->held[i]);
    g_free(t->held);
    t->held = NULL;
}

static void trigger_start(FlFault *f, FlWorld *w)
{
    Trigger *t = f->state;
    t->armed = true;
    t->fired = false;
    t->seen = 0;
    t->handler = 0;
    t->in_this = 0;
    if (!t->before_bytes) {
        t->before_bytes = g_byte_array_new();
        t->after = g_byte_array_new();
        t->scratch = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    }
    free_held(t);
    g_free(t->nodes);
    g_free(t->since);
    t->nnodes = fl_world_nodes(w);
    t->nodes = g_new0(bool, t->nnodes);
    t->since = g_new(int64_t, t->nnodes);
    for (uint32_t i = 0; i < t->nnodes; i++)
        t->since[i] = -1;   /* note 5: no role change seen yet */
    if (t->returning) {
        t->held = g_new0(GPtrArray *, t->nnodes);
        for (uint32_t i = 0; i < t->nnodes; i++) {
            t->held[i] = g_ptr_array_new_with_free_func(g_free);
            const char *role = fl_world_role(w, i);
            if (role && *role)
                g_ptr_array_add(t->held[i], g_strdup(role));
        }
    }
    if (t->node.kind != FL_SEL_LEADER)
        fl_fault_resolve_set(w, &t->node, t->nodes, t->nnodes);
    fl_world_add_event_hook(w, on_event, f);
    g_autofree char *set = t->node.kind == FL_SEL_LEADER ? g_strdup("the leader")
                                                         : fl_fault_set_text(t->nodes, t->nnodes);
    g_autofree char *who = t->node.kind == FL_SEL_LEADER ? g_strdup(set)
                                                         : g_strdup_printf("node %s", set);
    g_autofree char *text = g_strdup_printf(
        "crash %s at its %" G_GINT64_FORMAT "%s %s%s%s%s", who, t->count,
        ordinal_suffix(t->count), on_names[t->on],
        strcmp(t->name, "*") == 0 ? "" : " ", strcmp(t->name, "*") == 0 ? "" : t->name,
        t->after_role ? t->returning ? " after a return to a role held before"
                                     : " after a role change" : "");
    fl_world_fault_event(w, f->index, "trigger", "arm", text);
}

/* The window closed (or the liveness phase heals everything): stop
 * watching.  A node already crashed keeps its own restart (note 6). */
static void trigger_stop(FlFault *f, FlWorld *w)
{
    Trigger *t = f->state;
    if (!t->armed)
        return;
    t->armed = false;
    fl_world_remove_event_hook(w, on_event, f);
    fl_world_fault_event(w, f->index, "trigger", "disarm",
                         t->fired ? "fired" : "never fired: no event matched");
}

static void trigger_destroy(FlFault *f)
{
    Trigger *t = f->state;
    g_free((char *)t->name);
    free_held(t);
    g_free(t->nodes);
    g_free(t->since);
    g_free(t->file);
    if (t->before_bytes) {
        g_byte_array_unref(t->before_bytes);
        g_byte_array_unref(t->after);
        g_array_free(t->scratch, TRUE);
    }
}

static const FlFaultField trigger_fields[] = {
    { "node", "node id or selector (default \"*\"); \"leader\" is whoever leads at the event" },
    { "on", "send (a message of a kind), role (a role is declared), disk-write (a write before its sync) or reply (an operation acknowledged to a client)" },
    { "message", "on send: the message kind (see `faultline list protocols`), or \"*\" (default)" },
    { "role", "on role: the role, e.g. \"leader\", \"coordinator\"" },
    { "file", "on disk-write: the file, or \"*\" (default)" },
    { "count", "fire on the k-th matching event since `at` (default 1); fires once" },
    { "after_role", "count per node from its latest role change instead (default false): the k-th event after a node takes a new role" },
    { "returning", "with after_role: only changes back to a role the node held before (at arming or since), as a deposed leader elected again" },
    { "when", "on send: after (default: the message left) or before (it is lost with the crash)" },
    { "in_handler", "only the k-th matching event of one handler call (a crash mid-broadcast); default any" },
    { "then", "crash (default): the node crashes when the handler returns; its later effects are lost" },
    { "restart_after", "restart the node this long after the crash (\"0s\": at once); absent: it stays down" },
    { "mode", "on disk-write: lose-unsynced (default) or torn (a random prefix of the write survives)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_trigger = {
    .name = "trigger",
    .summary = "crashes a node right after a protocol event: a message of a kind sent, a role taken, a disk write before its sync, an acknowledgement",
    .fields = trigger_fields,
    .state_size = sizeof(Trigger),
    .parse = trigger_parse,
    .start = trigger_start,
    .stop = trigger_stop,
    .destroy = trigger_destroy,
};
