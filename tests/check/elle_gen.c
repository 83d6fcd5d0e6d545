/* tests/check/elle_gen.c: see elle_gen.h. */
#include "tests/check/elle_gen.h"

#include <stdarg.h>
#include <string.h>

#define MOPS_MAX 4
#define PLANT_KEY0 ((gint64)1 << 40)   /* keys of planted anomalies */

typedef struct {
    guint64 s;
} Rand;

static uint64_t splitmix(void *data)
{
    Rand *r = data;
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The model database: a list (or a register, length 0 or 1) per key. */
typedef struct {
    GHashTable *keys;   /* gint64* -> GArray of gint64 */
} Db;

static GArray *db_key(Db *db, gint64 k)
{
    GArray *a = g_hash_table_lookup(db->keys, &k);
    if (a == NULL) {
        gint64 *kp = g_new(gint64, 1);
        *kp = k;
        a = g_array_new(FALSE, FALSE, sizeof(gint64));
        g_hash_table_insert(db->keys, kp, a);
    }
    return a;
}

typedef struct {
    FlMop mops[MOPS_MAX + 2];
    guint n;
    gint64 *reads[MOPS_MAX + 2];
    guint lens[MOPS_MAX + 2];
} Txn;

static void txn_clear_reads(Txn *t)
{
    for (guint i = 0; i < t->n; i++) {
        g_free(t->reads[i]);
        t->reads[i] = NULL;
        t->lens[i] = 0;
    }
}

/* Runs micro-ops [from, to) of @t against @db. */
static void db_run(Db *db, FlTxnKind kind, Txn *t, guint from, guint to)
{
    for (guint i = from; i < to; i++) {
        GArray *a = db_key(db, t->mops[i].key);
        if (t->mops[i].f == FL_MOP_READ) {
            g_free(t->reads[i]);
            if (kind == FL_TXN_RW_REGISTER) {
                t->lens[i] = a->len ? 1 : 0;
                t->reads[i] = a->len ? g_memdup2(a->data, sizeof(gint64)) : NULL;
            } else {
                t->lens[i] = a->len;
                t->reads[i] = g_memdup2(a->data, sizeof(gint64) * a->len);
            }
        } else if (kind == FL_TXN_RW_REGISTER) {
            g_array_set_size(a, 1);
            g_array_index(a, gint64, 0) = t->mops[i].value;
        } else {
            g_array_append_val(a, t->mops[i].value);
        }
    }
}

typedef struct {
    const FlElleGenParams *p;
    FILE *out;
    GString *buf;
    guint64 events, time;
} Out;

static void emit(Out *o, guint process, const char *type, const Txn *t, gboolean ok)
{
    GString *b = o->buf;
    g_string_truncate(b, 0);
    o->time += 1000;
    if (o->p->edn) {
        g_string_append_printf(b, "{:type :%s, :f :txn, :value ", type);
        fl_txn_to_edn(o->p->kind, t->mops, t->n, ok, t->reads, t->lens, b);
        g_string_append_printf(b, ", :process %u, :time %" G_GUINT64_FORMAT ", :index %"
                               G_GUINT64_FORMAT "}\n", process, o->time, o->events);
    } else {
        g_string_append_printf(b, "{\"process\":%u,\"type\":\"%s\",\"f\":\"txn\",\"value\":",
                               process, type);
        fl_txn_to_json(o->p->kind, t->mops, t->n, ok, t->reads, t->lens, b);
        g_string_append_printf(b, ",\"time\":%" G_GUINT64_FORMAT "}\n", o->time);
    }
    fwrite(b->str, 1, b->len, o->out);
    o->events++;
}

static FlMopKind wkind(FlTxnKind k)
{
    return k == FL_TXN_LIST_APPEND ? FL_MOP_APPEND : FL_MOP_WRITE;
}

static void set(Txn *t, guint n, ...)
{
    va_list ap;
    va_start(ap, n);
    t->n = n;
    for (guint i = 0; i < n; i++) {
        t->mops[i].f = va_arg(ap, int);
        t->mops[i].key = va_arg(ap, gint64);
        t->mops[i].value = va_arg(ap, gint64);
        t->reads[i] = NULL;
        t->lens[i] = 0;
    }
    va_end(ap);
}

/* Write skew on fresh keys x, y by processes @a and @b, then a read of
 * both by @a. */
static void plant_g2(Out *o, Db *db, guint a, guint b, gint64 x, gint64 y)
{
    FlTxnKind k = o->p->kind;
    Txn t1, t2, t3;
    set(&t1, 3, FL_MOP_READ, x, (gint64)0, FL_MOP_READ, y, (gint64)0, wkind(k), x, (gint64)1);
    set(&t2, 3, FL_MOP_READ, x, (gint64)0, FL_MOP_READ, y, (gint64)0, wkind(k), y, (gint64)1);
    set(&t3, 2, FL_MOP_READ, x, (gint64)0, FL_MOP_READ, y, (gint64)0);
    emit(o, a, "invoke", &t1, FALSE);
    emit(o, b, "invoke", &t2, FALSE);
    db_run(db, k, &t1, 0, 2);
    db_run(db, k, &t2, 0, 2);
    db_run(db, k, &t1, 2, 3);
    db_run(db, k, &t2, 2, 3);
    emit(o, a, "ok", &t1, TRUE);
    emit(o, b, "ok", &t2, TRUE);
    emit(o, a, "invoke", &t3, FALSE);
    db_run(db, k, &t3, 0, 2);
    emit(o, a, "ok", &t3, TRUE);
    txn_clear_reads(&t1);
    txn_clear_reads(&t2);
    txn_clear_reads(&t3);
}

/* Read skew: @a reads x, @b writes x and y, @a reads y; then a read of
 * both.  For rw-register the reader also reads x first (nil), which gives
 * the anti-dependency. */
static void plant_gsingle(Out *o, Db *db, guint a, guint b, gint64 x, gint64 y)
{
    FlTxnKind k = o->p->kind;
    Txn t1, t2, t3;
    set(&t1, 2, FL_MOP_READ, x, (gint64)0, FL_MOP_READ, y, (gint64)0);
    set(&t2, 2, wkind(k), x, (gint64)1, wkind(k), y, (gint64)1);
    set(&t3, 2, FL_MOP_READ, x, (gint64)0, FL_MOP_READ, y, (gint64)0);
    emit(o, a, "invoke", &t1, FALSE);
    db_run(db, k, &t1, 0, 1);
    emit(o, b, "invoke", &t2, FALSE);
    db_run(db, k, &t2, 0, 2);
    emit(o, b, "ok", &t2, TRUE);
    db_run(db, k, &t1, 1, 2);
    emit(o, a, "ok", &t1, TRUE);
    emit(o, b, "invoke", &t3, FALSE);
    db_run(db, k, &t3, 0, 2);
    emit(o, b, "ok", &t3, TRUE);
    txn_clear_reads(&t1);
    txn_clear_reads(&t2);
    txn_clear_reads(&t3);
}

guint64 fl_elle_gen(const FlElleGenParams *p, FILE *out)
{
    g_assert(p->processes >= 2);
    Rand rnd = { p->seed * 0x2545F4914F6CDD1Dull + 1 };
    FlTxnGenParams gp = { .kind = p->kind, .keys_active = 8, .writes_per_key = 32,
                          .mops_min = 1, .mops_max = MOPS_MAX };
    FlTxnGen *g = fl_txn_gen_new(&gp, splitmix, &rnd);
    Db db = { g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                    (GDestroyNotify)g_array_unref) };
    Out o = { .p = p, .out = out, .buf = g_string_new(NULL) };
    Txn *open = g_new0(Txn, p->processes);
    gboolean *busy = g_new0(gboolean, p->processes);
    guint64 started = 0, completed = 0;
    guint planted = 0, plants = p->g2_pairs + p->g_single;
    guint64 every = plants ? MAX(p->txns / (plants + 1), 1) : 0, next_at = every;
    gint64 next_key = PLANT_KEY0;
    while (completed < p->txns) {
        guint pr = (guint)(splitmix(&rnd) % p->processes);
        if (!busy[pr]) {
            if (started == p->txns) continue;
            Txn *t = &open[pr];
            t->n = fl_txn_gen_next(g, t->mops, MOPS_MAX);
            memset(t->reads, 0, sizeof t->reads);
            memset(t->lens, 0, sizeof t->lens);
            emit(&o, pr, "invoke", t, FALSE);
            busy[pr] = TRUE;
            started++;
            continue;
        }
        Txn *t = &open[pr];
        db_run(&db, p->kind, t, 0, t->n);
        emit(&o, pr, "ok", t, TRUE);
        txn_clear_reads(t);
        busy[pr] = FALSE;
        completed++;
        if (planted < plants && completed >= next_at) {
            /* Two idle processes. */
            guint a = G_MAXUINT, b = G_MAXUINT;
            for (guint i = 0; i < p->processes; i++)
                if (!busy[i]) {
                    if (a == G_MAXUINT) a = i;
                    else if (b == G_MAXUINT) b = i;
                }
            if (b == G_MAXUINT) continue;   /* try at the next completion */
            /* G-single plants spread evenly, the first one mid-way. */
            guint64 half = plants / 2;
            gboolean single = ((guint64)planted * p->g_single + half) / plants !=
                              ((guint64)(planted + 1) * p->g_single + half) / plants;
            if (single) plant_gsingle(&o, &db, a, b, next_key, next_key + 1);
            else plant_g2(&o, &db, a, b, next_key, next_key + 1);
            next_key += 2;
            planted++;
            next_at += every;
        }
    }
    g_free(open);
    g_free(busy);
    g_string_free(o.buf, TRUE);
    g_hash_table_unref(db.keys);
    fl_txn_gen_free(g);
    return o.events;
}
