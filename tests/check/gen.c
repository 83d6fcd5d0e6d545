/* tests/check/gen.c: the history generator (see gen.h). */
#include "tests/check/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    guint64 s;
} Rng;

static guint64 next_u64(Rng *r)
{
    guint64 z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(Rng *r)
{
    return (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

static guint32 below(Rng *r, guint32 n)
{
    return (guint32)(uniform(r) * n);
}

enum { ST_OK, ST_INFO, ST_OPEN, ST_FAIL };

typedef struct {
    double t_inv, t_ret, t_lin;
    gint64 process;
    int status;
    gboolean effect;        /* took effect in the sequential execution */
    const char *f;
    guint32 key;
    GString *arg, *result;  /* JSON text */
    gint64 num;             /* register/kv: the value written (unique) */
} GOp;

static int cmp_lin(const void *x, const void *y)
{
    const GOp *a = *(GOp *const *)x, *b = *(GOp *const *)y;
    return a->t_lin < b->t_lin ? -1 : a->t_lin > b->t_lin;
}

typedef struct {
    double t;
    int kind;   /* 0 invoke, 1 complete */
    GOp *op;
} GEvent;

static int cmp_event(const void *x, const void *y)
{
    const GEvent *a = x, *b = y;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->kind - b->kind;
}

/* Heavy-tailed operation length: Pareto with shape 1.5, capped. */
static double length(Rng *r)
{
    double u = 1.0 - uniform(r);
    return MIN(100.0 / pow(u, 1.0 / 1.5), 100.0 * 2000);
}

/* Per-key state of the sequential execution. */
typedef struct {
    gint64 reg;             /* register: value, -1 = null */
    GString *kv;
    GArray *set;            /* gint64, insertion order */
    GQueue queue;           /* gint64 as pointers */
    gboolean held;
} KState;

static void emit_int_list(GString *s, GArray *xs, gboolean sorted)
{
    GArray *c = g_array_copy(xs);
    if (sorted) {
        for (guint i = 1; i < c->len; i++)
            for (guint j = i; j > 0 && g_array_index(c, gint64, j - 1) > g_array_index(c, gint64, j); j--) {
                gint64 t = g_array_index(c, gint64, j);
                g_array_index(c, gint64, j) = g_array_index(c, gint64, j - 1);
                g_array_index(c, gint64, j - 1) = t;
            }
    }
    g_string_append_c(s, '[');
    for (guint i = 0; i < c->len; i++)
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "," : "", g_array_index(c, gint64, i));
    g_string_append_c(s, ']');
    g_array_unref(c);
}

/* Chooses the operation and computes its result at its linearization
 * point (in order of those points). */
static void execute(const FlGenParams *p, Rng *r, GOp *o, KState *k, gint64 *counter)
{
    const char *m = p->model;
    gboolean applies = o->status == ST_OK || ((o->status == ST_INFO || o->status == ST_OPEN) && uniform(r) < 0.5);
    o->effect = applies;
    if (strcmp(m, "register") == 0) {
        double x = uniform(r);
        if (x < p->cas) {
            o->f = "cas";
            gint64 old = uniform(r) < 0.7 ? k->reg : (*counter > 0 ? (gint64)below(r, (guint32)*counter) : -1);
            gint64 nw = ++*counter;
            o->num = nw;
            if (old < 0) g_string_printf(o->arg, "[null,%" G_GINT64_FORMAT "]", nw);
            else g_string_printf(o->arg, "[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "]", old, nw);
            g_string_assign(o->result, o->arg->str);
            if (old != k->reg) {
                o->effect = FALSE;
                if (o->status == ST_OK) o->status = ST_FAIL;
            } else if (applies) {
                k->reg = nw;
            }
        } else if (x < p->cas + (1 - p->cas) * 0.45) {
            o->f = "write";
            o->num = ++*counter;
            g_string_printf(o->arg, "%" G_GINT64_FORMAT, o->num);
            g_string_assign(o->result, o->arg->str);
            if (applies) k->reg = o->num;
        } else {
            o->f = "read";
            g_string_assign(o->arg, "null");
            if (k->reg < 0) g_string_assign(o->result, "null");
            else g_string_printf(o->result, "%" G_GINT64_FORMAT, k->reg);
        }
    } else if (strcmp(m, "kv") == 0) {
        double x = uniform(r);
        if (x < 0.5) {
            o->f = "get";
            g_string_assign(o->arg, "null");
            g_string_printf(o->result, "\"%s\"", k->kv->str);
        } else {
            o->f = x < 0.8 ? "put" : "append";
            o->num = ++*counter;
            g_string_printf(o->arg, "\"%" G_GINT64_FORMAT ",\"", o->num);
            g_string_assign(o->result, o->arg->str);
            if (applies) {
                if (o->f[0] == 'p') g_string_truncate(k->kv, 0);
                g_string_append_printf(k->kv, "%" G_GINT64_FORMAT ",", o->num);
            }
        }
    } else if (strcmp(m, "set") == 0) {
        if (uniform(r) < 0.6) {
            o->f = "add";
            o->num = ++*counter;
            g_string_printf(o->arg, "%" G_GINT64_FORMAT, o->num);
            g_string_assign(o->result, o->arg->str);
            if (applies) g_array_append_val(k->set, o->num);
        } else {
            o->f = "read";
            g_string_assign(o->arg, "null");
            g_string_truncate(o->result, 0);
            emit_int_list(o->result, k->set, FALSE);
        }
    } else if (strcmp(m, "queue") == 0) {
        if (uniform(r) < 0.55) {
            o->f = "enqueue";
            o->num = ++*counter;
            g_string_printf(o->arg, "%" G_GINT64_FORMAT, o->num);
            g_string_assign(o->result, o->arg->str);
            if (applies) g_queue_push_tail(&k->queue, GINT_TO_POINTER((gint)o->num));
        } else {
            o->f = "dequeue";
            g_string_assign(o->arg, "null");
            if (g_queue_is_empty(&k->queue)) {
                g_string_assign(o->result, "null");
            } else {
                gint v = GPOINTER_TO_INT(g_queue_peek_head(&k->queue));
                g_string_printf(o->result, "%d", v);
                if (applies) g_queue_pop_head(&k->queue);
            }
        }
    } else {
        o->f = k->held ? "release" : "acquire";
        g_string_assign(o->arg, "null");
        g_string_assign(o->result, "null");
        if (applies) k->held = !k->held;
    }
    if (o->status == ST_FAIL) o->effect = FALSE;
}

static gboolean is_reading(const GOp *o)
{
    return o->status == ST_OK && (strcmp(o->f, "read") == 0 || strcmp(o->f, "get") == 0 ||
                                  strcmp(o->f, "dequeue") == 0);
}

static gboolean overwrites(const GOp *o)
{
    return o->status == ST_OK && o->effect &&
           (strcmp(o->f, "write") == 0 || strcmp(o->f, "cas") == 0);
}

/* Changes one result so that no order explains it (see gen.h). */
static gboolean mutate(const FlGenParams *p, Rng *r, GOp **ops, guint32 n)
{
    const char *m = p->model;
    if (strcmp(m, "mutex") == 0) {
        for (guint32 i = 0; i < n; i++)
            if (ops[i]->status == ST_INFO || ops[i]->status == ST_OPEN) return FALSE;
        guint32 start = below(r, n);
        for (guint32 j = 0; j < n; j++) {
            GOp *o = ops[(start + j) % n];
            if (o->status != ST_OK) continue;
            o->f = strcmp(o->f, "acquire") == 0 ? "release" : "acquire";
            return TRUE;
        }
        return FALSE;
    }
    guint32 start = below(r, n);
    for (guint32 j = 0; j < n; j++) {
        GOp *o = ops[(start + j) % n];
        if (!is_reading(o)) continue;
        if (strcmp(m, "register") == 0) {
            /* Stale if possible: a value overwritten (W then W2, both
             * before the read in real time) can no longer be read. */
            GOp *w2 = NULL;
            for (guint32 i = 0; i < n; i++)
                if (ops[i]->key == o->key && overwrites(ops[i]) && ops[i]->t_ret < o->t_inv &&
                    (w2 == NULL || ops[i]->t_inv > w2->t_inv))
                    w2 = ops[i];
            GOp *w = NULL;
            for (guint32 i = 0; w2 && i < n; i++)
                if (ops[i]->key == o->key && overwrites(ops[i]) && ops[i]->t_ret < w2->t_inv &&
                    (w == NULL || ops[i]->t_ret > w->t_ret))
                    w = ops[i];
            if (w) g_string_printf(o->result, "%" G_GINT64_FORMAT, w->num);
            else g_string_assign(o->result, "-7");
        } else if (strcmp(m, "kv") == 0) {
            g_string_truncate(o->result, o->result->len - 1);
            g_string_append(o->result, "-7,\"");
        } else if (strcmp(m, "set") == 0) {
            g_string_truncate(o->result, o->result->len - 1);
            g_string_append(o->result, o->result->len > 1 ? ",-7]" : "-7]");
        } else {
            g_string_assign(o->result, "-7");
        }
        return TRUE;
    }
    return FALSE;
}

static void write_event(const FlGenParams *p, GString *out, const GEvent *e,
                        gboolean first)
{
    const GOp *o = e->op;
    const char *type = e->kind == 0 ? "invoke"
                     : o->status == ST_OK ? "ok" : o->status == ST_FAIL ? "fail" : "info";
    const char *value = e->kind == 0 ? (strcmp(o->f, "read") == 0 || strcmp(o->f, "get") == 0 ||
                                        strcmp(o->f, "dequeue") == 0 ? "null" : o->arg->str)
                      : o->status == ST_OK ? o->result->str : o->arg->str;
    gint64 t = (gint64)(e->t * 1000);
    if (!p->edn) {
        g_string_append_printf(out, "{\"process\":%" G_GINT64_FORMAT ",\"type\":\"%s\",\"f\":\"%s\",",
                               o->process, type, o->f);
        if (p->keys) g_string_append_printf(out, "\"key\":%u,", o->key);
        g_string_append_printf(out, "\"value\":%s,\"time\":%" G_GINT64_FORMAT "}\n", value, t);
        return;
    }
    GString *v = g_string_new(NULL);
    for (const char *c = value; *c; c++) {
        if (*c == ',' && value[0] != '"') g_string_append_c(v, ' ');
        else if (strncmp(c, "null", 4) == 0) {
            g_string_append(v, "nil");
            c += 3;
        } else g_string_append_c(v, *c);
    }
    g_string_append_printf(out, "%s{:process %" G_GINT64_FORMAT ", :type :%s, :f :%s, ",
                           first ? "[" : " ", o->process, type, o->f);
    if (p->keys) g_string_append_printf(out, ":key %u, ", o->key);
    g_string_append_printf(out, ":value %s, :time %" G_GINT64_FORMAT "}\n", v->str, t);
    g_string_free(v, TRUE);
}

gboolean fl_gen_history(const FlGenParams *p, GString *out)
{
    Rng rng = { p->seed * 0x2545F4914F6CDD1Dull + 17 };
    Rng *r = &rng;
    guint32 n = p->ops;
    guint32 procs = MAX(p->processes, 1);
    GOp *store = g_new0(GOp, MAX(n, 1));
    GOp **ops = g_new(GOp *, MAX(n, 1));
    double *cursor = g_new(double, procs);
    gint64 *pid = g_new(gint64, procs);
    gint64 next_pid = procs;
    for (guint32 i = 0; i < procs; i++) {
        cursor[i] = uniform(r) * 100;
        pid[i] = i;
    }
    /* Intervals: the next operation goes to the process that is free
     * first; its linearization point is uniform inside its interval. */
    for (guint32 i = 0; i < n; i++) {
        guint32 q = 0;
        for (guint32 j = 1; j < procs; j++)
            if (cursor[j] < cursor[q]) q = j;
        GOp *o = &store[i];
        ops[i] = o;
        o->t_inv = cursor[q] + uniform(r) * 20 + 0.001;
        o->t_ret = o->t_inv + length(r) + 0.001;
        o->t_lin = o->t_inv + (o->t_ret - o->t_inv) * (0.001 + 0.998 * uniform(r));
        o->process = pid[q];
        o->key = p->keys ? below(r, p->keys) : 0;
        o->arg = g_string_new(NULL);
        o->result = g_string_new(NULL);
        double x = uniform(r);
        o->status = x < p->info ? (uniform(r) < 0.3 ? ST_OPEN : ST_INFO)
                  : x < p->info + p->fail ? ST_FAIL : ST_OK;
        cursor[q] = o->t_ret;
        if (o->status == ST_INFO || o->status == ST_OPEN) pid[q] = next_pid++;
    }
    GOp **by_lin = g_memdup2(ops, sizeof(GOp *) * n);
    qsort(by_lin, n, sizeof(GOp *), cmp_lin);
    guint32 nk = MAX(p->keys, 1);
    KState *ks = g_new0(KState, nk);
    for (guint32 k = 0; k < nk; k++) {
        ks[k].reg = -1;
        ks[k].kv = g_string_new(NULL);
        ks[k].set = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_queue_init(&ks[k].queue);
    }
    gint64 counter = 0;
    for (guint32 i = 0; i < n; i++) execute(p, r, by_lin[i], &ks[by_lin[i]->key], &counter);
    gboolean ok = TRUE;
    if (p->invalid) ok = mutate(p, r, ops, n);

    GEvent *ev = g_new(GEvent, 2 * (gsize)MAX(n, 1));
    guint32 ne = 0;
    for (guint32 i = 0; i < n; i++) {
        ev[ne++] = (GEvent){ ops[i]->t_inv, 0, ops[i] };
        if (ops[i]->status != ST_OPEN) ev[ne++] = (GEvent){ ops[i]->t_ret, 1, ops[i] };
    }
    qsort(ev, ne, sizeof *ev, cmp_event);
    for (guint32 i = 0; i < ne; i++) write_event(p, out, &ev[i], i == 0);
    if (p->edn) g_string_append(out, ne ? "]\n" : "[]\n");

    for (guint32 k = 0; k < nk; k++) {
        g_string_free(ks[k].kv, TRUE);
        g_array_unref(ks[k].set);
        g_queue_clear(&ks[k].queue);
    }
    for (guint32 i = 0; i < n; i++) {
        g_string_free(store[i].arg, TRUE);
        g_string_free(store[i].result, TRUE);
    }
    g_free(ks);
    g_free(ev);
    g_free(by_lin);
    g_free(ops);
    g_free(store);
    g_free(cursor);
    g_free(pid);
    return ok;
}

void fl_gen_random(const char *model, guint32 n, guint32 processes,
                   guint64 seed, GString *out)
{
    Rng rng = { seed * 0x9E3779B97F4A7C15ull + 5 }, *r = &rng;
    gint64 *open_f = g_new0(gint64, processes);   /* 0 = idle, else op index + 1 */
    gint64 *pid = g_new(gint64, processes);
    for (guint32 i = 0; i < processes; i++) pid[i] = i;
    gint64 next_pid = processes;
    guint32 started = 0, t = 0;
    static const char *const kv_vals[] = { "\"\"", "\"a\"", "\"b\"", "\"ab\"", "\"ba\"", "\"aa\"" };
    static const char *const set_vals[] = { "[]", "[1]", "[2]", "[1,2]" };
    const char *fs[2][3];
    int nf;
    if (strcmp(model, "register") == 0) {
        fs[0][0] = "read"; fs[0][1] = "write"; fs[0][2] = "cas"; nf = 3;
    } else if (strcmp(model, "kv") == 0) {
        fs[0][0] = "get"; fs[0][1] = "put"; fs[0][2] = "append"; nf = 3;
    } else if (strcmp(model, "set") == 0) {
        fs[0][0] = "read"; fs[0][1] = "add"; nf = 2;
    } else if (strcmp(model, "queue") == 0) {
        fs[0][0] = "dequeue"; fs[0][1] = "enqueue"; nf = 2;
    } else {
        fs[0][0] = "acquire"; fs[0][1] = "release"; nf = 2;
    }
    GPtrArray *opf = g_ptr_array_new();
    GPtrArray *oparg = g_ptr_array_new_with_free_func(g_free);
    for (;;) {
        guint32 q = below(r, processes);
        gboolean all_idle = TRUE;
        for (guint32 i = 0; i < processes; i++) all_idle &= open_f[i] == 0;
        if (started == n && all_idle) break;
        if (open_f[q] == 0) {
            if (started == n) continue;
            int fi = (int)below(r, (guint32)nf);
            const char *f = fs[0][fi];
            char *arg;
            if (strcmp(model, "register") == 0)
                arg = fi == 0 ? g_strdup("null") : fi == 1 ? g_strdup_printf("%u", below(r, 3))
                    : g_strdup_printf("[%u,%u]", below(r, 3), below(r, 3));
            else if (strcmp(model, "kv") == 0)
                arg = fi == 0 ? g_strdup("null") : g_strdup(uniform(r) < 0.5 ? "\"a\"" : "\"b\"");
            else if (strcmp(model, "mutex") == 0)
                arg = g_strdup("null");
            else
                arg = fi == 0 ? g_strdup("null") : g_strdup_printf("%u", 1 + below(r, 2));
            g_ptr_array_add(opf, (gpointer)f);
            g_ptr_array_add(oparg, arg);
            open_f[q] = opf->len;
            started++;
            g_string_append_printf(out, "{\"process\":%" G_GINT64_FORMAT ",\"type\":\"invoke\",\"f\":\"%s\",\"value\":%s,\"time\":%u}\n",
                                   pid[q], f, arg, t++);
        } else {
            guint idx = (guint)open_f[q] - 1;
            const char *f = opf->pdata[idx];
            const char *arg = oparg->pdata[idx];
            double x = uniform(r);
            const char *type = x < 0.1 ? "info" : x < 0.2 ? "fail" : "ok";
            g_autofree char *res = NULL;
            if (strcmp(type, "ok") == 0 && (strcmp(f, "read") == 0 || strcmp(f, "get") == 0 ||
                                            strcmp(f, "dequeue") == 0)) {
                if (strcmp(model, "register") == 0)
                    res = below(r, 4) == 3 ? g_strdup("null") : g_strdup_printf("%u", below(r, 3));
                else if (strcmp(model, "kv") == 0) res = g_strdup(kv_vals[below(r, 6)]);
                else if (strcmp(model, "set") == 0) res = g_strdup(set_vals[below(r, 4)]);
                else res = below(r, 3) == 2 ? g_strdup("null") : g_strdup_printf("%u", 1 + below(r, 2));
            } else {
                res = g_strdup(arg);
            }
            g_string_append_printf(out, "{\"process\":%" G_GINT64_FORMAT ",\"type\":\"%s\",\"f\":\"%s\",\"value\":%s,\"time\":%u}\n",
                                   pid[q], type, f, res, t++);
            open_f[q] = 0;
            if (strcmp(type, "info") == 0) pid[q] = next_pid++;
        }
    }
    g_ptr_array_unref(opf);
    g_ptr_array_unref(oparg);
    g_free(open_f);
    g_free(pid);
}

void fl_gen_jsonl_to_edn(const char *jsonl, GString *out)
{
    /* Only for this generator's output: flat objects, simple values. */
    g_string_append_c(out, '[');
    gboolean in_str = FALSE;
    for (const char *c = jsonl; *c; c++) {
        if (in_str) {
            g_string_append_c(out, *c);
            if (*c == '\\' && c[1]) g_string_append_c(out, *++c);
            else if (*c == '"') in_str = FALSE;
            continue;
        }
        if (*c == '"') {
            /* A field name becomes a keyword; a string value stays. */
            const char *end = strchr(c + 1, '"');
            if (end && end[1] == ':') {
                g_string_append_c(out, ':');
                g_string_append_len(out, c + 1, end - c - 1);
                g_string_append_c(out, ' ');
                c = end + 1;
                continue;
            }
            in_str = TRUE;
            g_string_append_c(out, '"');
        } else if (*c == ',') {
            g_string_append(out, ", ");
        } else if (strncmp(c, "null", 4) == 0) {
            g_string_append(out, "nil");
            c += 3;
        } else {
            g_string_append_c(out, *c);
        }
    }
    g_string_append(out, "]\n");
}

/* Ops of fl_gen_sc, in the order of the sequential execution. */
typedef struct {
    guint32 proc, key;
    gboolean write;
    gint64 value;           /* written, or read (-1: null) */
    gint64 t;               /* invocation time */
} ScOp;

static int cmp_sc_event(const void *x, const void *y)
{
    const gint64 *a = x, *b = y;   /* (time, process, op index) */
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

gboolean fl_gen_sc(guint32 ops, guint32 processes, guint32 keys, guint32 lag_max,
                   gboolean invalid, guint64 seed, GString *out)
{
    Rng rng = { seed * 0x9E3779B97F4A7C15ull + 11 }, *r = &rng;
    keys = MAX(keys, 1);
    processes = MAX(processes, 1);
    ScOp *o = g_new0(ScOp, MAX(ops, 1));
    gint64 *reg = g_new(gint64, keys);
    for (guint32 k = 0; k < keys; k++) reg[k] = -1;
    gint64 *lag = g_new(gint64, processes);
    for (guint32 p = 0; p < processes; p++) lag[p] = below(r, lag_max + 1);
    /* The sequential execution: one order that explains every read. */
    for (guint32 i = 0; i < ops; i++) {
        o[i].proc = below(r, processes);
        o[i].key = below(r, keys);
        o[i].write = uniform(r) < 0.5;
        if (o[i].write) reg[o[i].key] = o[i].value = i + 1;
        else o[i].value = reg[o[i].key];
        /* A process's clock runs behind by its lag: real time disagrees
         * with the execution order, never with the process's own order. */
        o[i].t = ((gint64)i + lag[o[i].proc]) * 10;
    }
    gboolean changed = !invalid;
    if (invalid) {
        /* A read of the initial value after the reader's own write of the
         * key: no order explains it. */
        guint32 start = below(r, MAX(ops, 1));
        for (guint32 d = 0; d < ops && !changed; d++) {
            guint32 i = (start + d) % ops;
            if (o[i].write || o[i].value < 0) continue;
            for (guint32 j = 0; j < i && !changed; j++)
                if (o[j].write && o[j].proc == o[i].proc && o[j].key == o[i].key) {
                    o[i].value = -1;
                    changed = TRUE;
                }
        }
    }
    gint64 *ev = g_new(gint64, (gsize)MAX(ops, 1) * 3);
    for (guint32 i = 0; i < ops; i++) {
        ev[i * 3] = o[i].t;
        ev[i * 3 + 1] = o[i].proc;
        ev[i * 3 + 2] = i;
    }
    qsort(ev, ops, sizeof(gint64) * 3, cmp_sc_event);
    gint64 last = 0;   /* times never go back from line to line (history.c note 1) */
    for (guint32 e = 0; e < ops; e++) {
        const ScOp *x = &o[ev[e * 3 + 2]];
        const char *f = x->write ? "write" : "read";
        g_string_append_printf(out, "{\"process\":%u,\"type\":\"invoke\",\"f\":\"%s\",\"key\":%u,"
                               "\"value\":", x->proc, f, x->key);
        if (x->write) g_string_append_printf(out, "%" G_GINT64_FORMAT, x->value);
        else g_string_append(out, "null");
        last = MAX(last, x->t);
        g_string_append_printf(out, ",\"time\":%" G_GINT64_FORMAT "}\n", last);
        g_string_append_printf(out, "{\"process\":%u,\"type\":\"ok\",\"f\":\"%s\",\"key\":%u,"
                               "\"value\":", x->proc, f, x->key);
        if (x->value >= 0) g_string_append_printf(out, "%" G_GINT64_FORMAT, x->value);
        else g_string_append(out, "null");
        last += 5;
        g_string_append_printf(out, ",\"time\":%" G_GINT64_FORMAT "}\n", last);
    }
    g_free(ev);
    g_free(lag);
    g_free(reg);
    g_free(o);
    return changed;
}
