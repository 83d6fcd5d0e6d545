/* sim/check/atoms.c: the intern table.
 *
 * Entries live back to back in one byte buffer as [kind:1][len:4][bytes];
 * `offsets` maps an atom to its entry and an open-addressing table of atoms
 * (linear probing, load <= 1/2) finds an entry from its bytes.
 */
#include "sim/check/atoms.h"

#include <string.h>

struct FlAtoms {
    /* Plain arrays rather than GByteArray and GArray: interning is done
     * once per value of every event, and their calls were a tenth of it. */
    guint8 *buf;
    gsize buf_len, buf_cap;
    guint64 *offsets;     /* per atom */
    guint32 n, n_cap;
    guint64 *slots;       /* (hash >> 32) << 32 | (atom + 1); 0 = empty:
                           * the hash bits spare most visits to entries */
    guint64 mask;
    GByteArray *scratch;
    GString *text;        /* fl_atoms_value's canonical JSON, reused */
    FlAtom small_int[256];   /* atoms of 0..255 (keys, processes), or NONE */
};

guint64 fl_hash_bytes(const void *p, gsize len, guint64 seed)
{
    const unsigned char *s = p;
    guint64 h = seed ^ (len * 0x9E3779B97F4A7C15ull);
    while (len >= 8) {
        guint64 k;
        memcpy(&k, s, 8);
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 32;
        h = (h ^ k) * 0xc4ceb9fe1a85ec53ull;
        s += 8;
        len -= 8;
    }
    /* The last 0-7 bytes as a little-endian word, what memcpy into k gives
     * on this machine, without a call for a variable length. */
    guint64 k = 0;
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    if (len >= 4) {
        guint32 lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + len - 4, 4);
        k = lo | ((guint64)hi << (8 * (len - 4)));
    } else if (len) {
        k = (guint64)s[0] | ((guint64)s[len / 2] << (8 * (len / 2))) |
            ((guint64)s[len - 1] << (8 * (len - 1)));
    }
#else
    if (len) memcpy(&k, s, len);
#endif
    h ^= k * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return h;
}

static const unsigned char *entry(const FlAtoms *a, FlAtom x, guint32 *len)
{
    guint64 off = a->offsets[x];
    const unsigned char *e = a->buf + off;
    memcpy(len, e + 1, 4);
    return e;
}

#define SLOT_ATOM(v) ((guint32)(v) - 1)
#define SLOT_TAG(h) ((h) & 0xffffffff00000000ull)

static void grow(FlAtoms *a)
{
    guint64 n = (a->mask + 1) * 2;
    g_free(a->slots);
    a->slots = g_new0(guint64, n);
    a->mask = n - 1;
    for (guint32 x = 0; x < a->n; x++) {
        guint32 len;
        const unsigned char *e = entry(a, x, &len);
        guint64 h = fl_hash_bytes(e + 5, len, e[0]);
        guint64 i = h & a->mask;
        while (a->slots[i]) i = (i + 1) & a->mask;
        a->slots[i] = SLOT_TAG(h) | (x + 1);
    }
}

/* Returns the slot holding (kind, bytes), or the empty slot where it goes. */
static guint64 find(const FlAtoms *a, char kind, const void *bytes, gsize len,
                    guint64 *hash)
{
    guint64 h = fl_hash_bytes(bytes, len, (unsigned char)kind);
    *hash = h;
    guint64 i = h & a->mask;
    while (a->slots[i]) {
        if (SLOT_TAG(a->slots[i]) == SLOT_TAG(h)) {
            guint32 l;
            const unsigned char *e = entry(a, SLOT_ATOM(a->slots[i]), &l);
            if (e[0] == (unsigned char)kind && l == len && (len == 0 || memcmp(e + 5, bytes, len) == 0))
                return i;
        }
        i = (i + 1) & a->mask;
    }
    return i;
}

FlAtom fl_atoms_find_str(const FlAtoms *a, const char *s, gsize len)
{
    guint64 h;
    guint64 i = find(a, FL_ATOM_KIND_STR, s, len, &h);
    return a->slots[i] ? SLOT_ATOM(a->slots[i]) : FL_ATOM_NONE;
}

static FlAtom intern(FlAtoms *a, char kind, const void *bytes, gsize len)
{
    g_assert(len < G_MAXUINT32);
    guint64 h;
    guint64 i = find(a, kind, bytes, len, &h);
    if (a->slots[i]) return SLOT_ATOM(a->slots[i]);
    FlAtom x = a->n;
    g_assert(x < FL_ATOM_NONE);
    guint64 off = a->buf_len;
    if (a->n == a->n_cap) {
        a->n_cap = a->n_cap * 2;
        a->offsets = g_renew(guint64, a->offsets, a->n_cap);
    }
    a->offsets[a->n++] = off;
    guint32 l = (guint32)len;
    g_assert(off + 5 + len <= G_MAXUINT);
    if (off + 5 + len > a->buf_cap) {
        a->buf_cap = MAX(a->buf_cap * 2, off + 5 + len);
        a->buf = g_realloc(a->buf, a->buf_cap);
    }
    a->buf_len = off + 5 + len;
    unsigned char *e = a->buf + off;
    e[0] = (unsigned char)kind;
    memcpy(e + 1, &l, 4);
    if (len) memcpy(e + 5, bytes, len);
    a->slots[i] = SLOT_TAG(h) | ((guint64)x + 1);
    if ((guint64)a->n * 2 > a->mask) grow(a);
    return x;
}

FlAtoms *fl_atoms_new(void)
{
    FlAtoms *a = g_new0(FlAtoms, 1);
    a->buf_cap = 1024;
    a->buf = g_malloc(a->buf_cap);
    a->n_cap = 64;
    a->offsets = g_new(guint64, a->n_cap);
    /* Small at first: a fuzz run makes two tables per seed for a few
     * hundred atoms, and atoms are numbered in order of interning whatever
     * the table's size. */
    a->mask = 127;
    a->slots = g_new0(guint64, a->mask + 1);
    a->scratch = g_byte_array_new();
    a->text = g_string_sized_new(64);
    for (gsize i = 0; i < G_N_ELEMENTS(a->small_int); i++) a->small_int[i] = FL_ATOM_NONE;
    FlAtom null = intern(a, FL_ATOM_KIND_NULL, "", 0);
    g_assert(null == FL_ATOM_NULL);
    return a;
}

void fl_atoms_free(FlAtoms *a)
{
    if (a == NULL) return;
    g_free(a->buf);
    g_free(a->offsets);
    g_byte_array_unref(a->scratch);
    g_string_free(a->text, TRUE);
    g_free(a->slots);
    g_free(a);
}

FlAtom fl_atoms_int(FlAtoms *a, gint64 x)
{
    if (x < 0 || x >= (gint64)G_N_ELEMENTS(a->small_int))
        return intern(a, FL_ATOM_KIND_INT, &x, sizeof x);
    FlAtom *cached = &a->small_int[x];
    if (*cached == FL_ATOM_NONE) *cached = intern(a, FL_ATOM_KIND_INT, &x, sizeof x);
    return *cached;
}

FlAtom fl_atoms_str(FlAtoms *a, const char *s, gsize len)
{
    return intern(a, FL_ATOM_KIND_STR, s, len);
}

FlAtom fl_atoms_placeholder(FlAtoms *a, const char *name)
{
    /* Canonical JSON never starts with '<', so this is no value's text. */
    g_autofree char *text = g_strdup_printf("<%s>", name);
    return intern(a, FL_ATOM_KIND_JSON, text, strlen(text));
}

FlAtom fl_atoms_concat(FlAtoms *a, FlAtom x, FlAtom y)
{
    g_assert(fl_atoms_kind(a, x) == FL_ATOM_KIND_STR);
    g_assert(fl_atoms_kind(a, y) == FL_ATOM_KIND_STR);
    gsize lx, ly;
    const char *sx = fl_atoms_bytes(a, x, &lx);
    g_byte_array_set_size(a->scratch, 0);
    g_byte_array_append(a->scratch, (const guint8 *)sx, (guint)lx);
    const char *sy = fl_atoms_bytes(a, y, &ly);   /* buf unchanged so far */
    g_byte_array_append(a->scratch, (const guint8 *)sy, (guint)ly);
    return intern(a, FL_ATOM_KIND_STR, a->scratch->data, a->scratch->len);
}

static int cmp_str(const void *x, const void *y)
{
    const GString *a = *(GString *const *)x, *b = *(GString *const *)y;
    gsize n = MIN(a->len, b->len);
    int c = memcmp(a->str, b->str, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static void free_gstring(gpointer s)
{
    g_string_free(s, TRUE);
}

/* Canonical JSON: like fl_val_to_json, but set elements sorted and
 * deduplicated. */
static void canonical(const FlVal *v, GString *out)
{
    if (v->kind != FL_VAL_SET) {
        if (v->kind != FL_VAL_VEC) {
            fl_val_to_json(v, out);
            return;
        }
        g_string_append_c(out, '[');
        for (gsize i = 0; i < v->seq.n; i++) {
            if (i) g_string_append_c(out, ',');
            canonical(v->seq.items[i], out);
        }
        g_string_append_c(out, ']');
        return;
    }
    GPtrArray *parts = g_ptr_array_new_with_free_func(free_gstring);
    for (gsize i = 0; i < v->seq.n; i++) {
        GString *s = g_string_new(NULL);
        canonical(v->seq.items[i], s);
        g_ptr_array_add(parts, s);
    }
    if (parts->len) qsort(parts->pdata, parts->len, sizeof(gpointer), cmp_str);
    g_string_append_c(out, '[');
    for (guint i = 0; i < parts->len; i++) {
        GString *s = parts->pdata[i];
        if (i && cmp_str(&parts->pdata[i - 1], &parts->pdata[i]) == 0) continue;
        if (out->str[out->len - 1] != '[') g_string_append_c(out, ',');
        g_string_append_len(out, s->str, (gssize)s->len);
    }
    g_string_append_c(out, ']');
    g_ptr_array_unref(parts);
}

FlAtom fl_atoms_value(FlAtoms *a, const FlVal *v)
{
    switch (v->kind) {
    case FL_VAL_NULL: return FL_ATOM_NULL;
    case FL_VAL_BOOL: return intern(a, FL_ATOM_KIND_BOOL, v->b ? "t" : "f", 1);
    case FL_VAL_INT: return fl_atoms_int(a, v->i);
    case FL_VAL_STR:
    case FL_VAL_KEYWORD: return fl_atoms_str(a, v->str.s, v->str.len);
    default: break;
    }
    GString *s = a->text;
    g_string_truncate(s, 0);
    canonical(v, s);
    return intern(a, FL_ATOM_KIND_JSON, s->str, s->len);
}

FlAtomKind fl_atoms_kind(const FlAtoms *a, FlAtom x)
{
    guint32 len;
    return (FlAtomKind)entry(a, x, &len)[0];
}

const char *fl_atoms_bytes(const FlAtoms *a, FlAtom x, gsize *len)
{
    guint32 l;
    const unsigned char *e = entry(a, x, &l);
    *len = l;
    return (const char *)e + 5;
}

gint64 fl_atoms_int_value(const FlAtoms *a, FlAtom x)
{
    g_assert(fl_atoms_kind(a, x) == FL_ATOM_KIND_INT);
    gsize len;
    gint64 v;
    memcpy(&v, fl_atoms_bytes(a, x, &len), sizeof v);
    return v;
}

guint32 fl_atoms_count(const FlAtoms *a)
{
    return a->n;
}

void fl_atoms_to_json(const FlAtoms *a, FlAtom x, GString *out)
{
    gsize len;
    const char *b = fl_atoms_bytes(a, x, &len);
    switch (fl_atoms_kind(a, x)) {
    case FL_ATOM_KIND_NULL: g_string_append(out, "null"); return;
    case FL_ATOM_KIND_BOOL: g_string_append(out, b[0] == 't' ? "true" : "false"); return;
    case FL_ATOM_KIND_INT:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, fl_atoms_int_value(a, x));
        return;
    case FL_ATOM_KIND_STR: {
        FlVal v = { .kind = FL_VAL_STR };
        v.str.s = b;
        v.str.len = len;
        fl_val_to_json(&v, out);
        return;
    }
    case FL_ATOM_KIND_JSON: g_string_append_len(out, b, (gssize)len); return;
    }
}
