/* sim/check/reader.c: JSON Lines and EDN into FlVal trees.
 *
 * Design notes.
 *  1. One cursor (pos, line, col) serves both grammars; every error names the
 *     position of the offending character and what was expected there.
 *  2. Trees are bump-allocated from an arena that is reset before each event,
 *     so reading a history of N events costs O(1) memory beyond the input.
 *  3. Strings without escapes point into the input; only escaped strings are
 *     copied (into the arena).
 *  4. JSONL: one object per line, blank lines allowed.  EDN: either a series
 *     of maps, or a single vector or list of maps; commas are whitespace,
 *     `;` starts a comment, `#_` discards the next form.
 *  5. Fast paths for what histories are made of: a string with no escape
 *     and no control character, and a JSON integer of at most 18 digits,
 *     are scanned in one tight loop that moves the cursor once at the end
 *     (such a token holds no newline, so only the column moves).  Anything
 *     else (escapes, fractions, long numbers, malformed input) is read again
 *     from its first byte by the general code, so values and error messages
 *     are the same either way.
 *  6. EDN, all of it (edn-format's specification), because real Jepsen
 *     histories use all of it: a symbol (`java.net.SocketTimeoutException`
 *     in an exception's `:via`) is read as a string of its name; a
 *     character literal (`\a`, `\newline`, `\u00e9`) as a one-character
 *     string; a tagged literal `#tag form` as its form, the tag dropped,
 *     which gives what is meaningful for the tags histories carry:
 *     `#jepsen.history.Op{...}` (a record, Jepsen 0.3) is its map, `#inst
 *     "..."` and `#uuid "..."` their strings.  Clojure's `##Inf`, `##-Inf`
 *     and `##NaN` are strings too (JSON has no such numbers), and so is a
 *     ratio `1/3`.  None of these can change a verdict unless a model
 *     reads it, and the models read integers, strings and keywords.
 */
#include "sim/check/reader.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)
#define MAX_DEPTH 64

typedef struct Chunk {
    struct Chunk *next;
    gsize used, size;
    char data[];
} Chunk;

struct FlReader {
    char *path;
    const char *data;
    gsize len;
    FlFormat fmt;
    gsize pos;
    guint32 line, col;
    Chunk *arena;
    gboolean edn_in_seq;   /* inside the single top-level vector or list */
    char edn_close;        /* its closing bracket */
    gboolean edn_started;
    gboolean done;
    GError *error;         /* first error, set by fail() */
};

static void *arena_grow(FlReader *r, gsize n)
{
    gsize size = MAX(n, ARENA_CHUNK);
    Chunk *nc = g_malloc(sizeof(Chunk) + size);
    nc->next = r->arena;
    nc->used = n;
    nc->size = size;
    r->arena = nc;
    return nc->data;
}

static inline void *arena_alloc(FlReader *r, gsize n)
{
    n = (n + 7) & ~(gsize)7;
    Chunk *c = r->arena;
    if (G_UNLIKELY(c == NULL || c->used + n > c->size)) return arena_grow(r, n);
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Frees all chunks but the first one, and empties that. */
static void arena_reset(FlReader *r)
{
    Chunk *c = r->arena;
    if (c == NULL) return;
    while (c->next) {
        Chunk *n = c->next;
        g_free(c);
        c = n;
    }
    /* Keep the oldest chunk only if it is a standard one. */
    if (c->size != ARENA_CHUNK) {
        g_free(c);
        r->arena = NULL;
        return;
    }
    c->used = 0;
    r->arena = c;
}

FlReader *fl_reader_new(const char *path, const char *data, gsize len,
                        FlFormat fmt)
{
    FlReader *r = g_new0(FlReader, 1);
    r->path = g_strdup(path);
    r->data = data;
    r->len = len;
    r->fmt = fmt;
    r->line = 1;
    r->col = 1;
    return r;
}

void fl_reader_free(FlReader *r)
{
    if (r == NULL) return;
    arena_reset(r);
    g_free(r->arena);
    g_clear_error(&r->error);
    g_free(r->path);
    g_free(r);
}

static int peek(const FlReader *r)
{
    return r->pos < r->len ? (unsigned char)r->data[r->pos] : -1;
}

static void advance(FlReader *r)
{
    if (r->pos >= r->len) return;
    if (r->data[r->pos] == '\n') {
        r->line++;
        r->col = 1;
    } else {
        r->col++;
    }
    r->pos++;
}

/* Describes the character at the cursor for "got ..." in messages. */
static void describe_here(const FlReader *r, char *buf, gsize n)
{
    int c = peek(r);
    if (c < 0)
        g_strlcpy(buf, "end of input", n);
    else if (c == '\n')
        g_strlcpy(buf, "end of line", n);
    else if (c >= 0x20 && c < 0x7f)
        g_snprintf(buf, n, "'%c'", c);
    else
        g_snprintf(buf, n, "byte 0x%02x", c);
}

/* Records the first error at the cursor: "expected WHAT, got X". */
static void fail(FlReader *r, const char *what)
{
    if (r->error) return;
    char got[32];
    describe_here(r, got, sizeof got);
    r->error = g_error_new(G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           "%s:%u:%u: expected %s, got %s", r->path, r->line,
                           r->col, what, got);
}

static void fail_at(FlReader *r, guint32 line, guint32 col, const char *msg)
{
    if (r->error) return;
    r->error = g_error_new(G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%u:%u: %s",
                           r->path, line, col, msg);
}

static inline FlVal *new_val(FlReader *r, FlValKind kind, guint32 line, guint32 col)
{
    FlVal *v = arena_alloc(r, sizeof *v);
    memset(v, 0, sizeof *v);   /* all of the union too */
    v->kind = kind;
    v->line = line;
    v->col = col;
    return v;
}

/* A growable list of children, kept on the C stack for small sizes. */
typedef struct {
    FlVal *inline_items[16];
    FlVal **items;
    gsize n, cap;
} Items;

static void items_init(Items *it)
{
    it->items = it->inline_items;
    it->n = 0;
    it->cap = G_N_ELEMENTS(it->inline_items);
}

static void items_grow(Items *it)
{
    gsize cap = it->cap * 2;
    FlVal **n = g_new(FlVal *, cap);
    memcpy(n, it->items, it->n * sizeof *n);
    if (it->items != it->inline_items) g_free(it->items);
    it->items = n;
    it->cap = cap;
}

static inline void items_push(Items *it, FlVal *v)
{
    if (G_UNLIKELY(it->n == it->cap)) items_grow(it);
    it->items[it->n++] = v;
}

static void items_finish(FlReader *r, Items *it, FlVal *into)
{
    into->seq.n = it->n;
    into->seq.items = arena_alloc(r, MAX(it->n, 1) * sizeof(FlVal *));
    memcpy(into->seq.items, it->items, it->n * sizeof(FlVal *));
    if (it->items != it->inline_items) g_free(it->items);
}

static void items_drop(Items *it)
{
    if (it->items != it->inline_items) g_free(it->items);
}

/* ---- shared pieces ---------------------------------------------------- */

static void put_utf8(GString *s, guint32 cp)
{
    char buf[6];
    gint n = g_unichar_to_utf8(cp, buf);
    g_string_append_len(s, buf, n);
}

static int hex4(FlReader *r, guint32 *out)
{
    guint32 v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(r);
        if (!g_ascii_isxdigit(c)) {
            fail(r, "a hexadecimal digit in \\u escape");
            return -1;
        }
        v = v * 16 + (guint32)g_ascii_xdigit_value(c);
        advance(r);
    }
    *out = v;
    return 0;
}

/* Moves the cursor @n bytes forward on the current line (no newline among
 * them). */
static inline void skip_on_line(FlReader *r, gsize n)
{
    r->pos += n;
    r->col += (guint32)n;
}

/* Whether none of the 8 bytes of @x is '"', '\\' or a control character
 * (below 0x20): the has-zero and has-less-than tests of "Bit Twiddling
 * Hacks", exact as to whether any byte qualifies. */
static inline gboolean plain8(guint64 x)
{
    const guint64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    guint64 q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    guint64 special = ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x);
    return (special & highs) == 0;
}

/* Reads a string starting at '"'; JSON forbids raw control characters, EDN
 * allows newlines inside strings. */
static FlVal *read_string(FlReader *r)
{
    guint32 line = r->line, col = r->col;
    /* Note 5: plain strings in one loop. */
    const unsigned char *d = (const unsigned char *)r->data;
    gsize first = r->pos + 1, i = first;
    for (guint64 x; i + 8 <= r->len && (memcpy(&x, d + i, 8), plain8(x)); i += 8) {}
    while (i < r->len && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20) i++;
    if (i < r->len && d[i] == '"') {
        skip_on_line(r, i + 1 - r->pos);
        FlVal *v = new_val(r, FL_VAL_STR, line, col);
        v->str.s = r->data + first;
        v->str.len = i - first;
        return v;
    }
    advance(r); /* '"' */
    gsize start = r->pos;
    GString *buf = NULL;
    for (;;) {
        int c = peek(r);
        if (c < 0 || (c == '\n' && r->fmt == FL_FORMAT_JSONL)) {
            fail(r, "'\"' to close the string");
            if (buf) g_string_free(buf, TRUE);
            return NULL;
        }
        if (c < 0x20 && r->fmt == FL_FORMAT_JSONL) {
            fail(r, "an escaped control character");
            if (buf) g_string_free(buf, TRUE);
            return NULL;
        }
        if (c == '"') break;
        if (c != '\\') {
            if (buf) g_string_append_c(buf, (char)c);
            advance(r);
            continue;
        }
        if (!buf) buf = g_string_new_len(r->data + start, r->pos - start);
        advance(r);
        int e = peek(r);
        switch (e) {
        case '"': g_string_append_c(buf, '"'); break;
        case '\\': g_string_append_c(buf, '\\'); break;
        case '/': g_string_append_c(buf, '/'); break;
        case 'b': g_string_append_c(buf, '\b'); break;
        case 'f': g_string_append_c(buf, '\f'); break;
        case 'n': g_string_append_c(buf, '\n'); break;
        case 'r': g_string_append_c(buf, '\r'); break;
        case 't': g_string_append_c(buf, '\t'); break;
        case 'u': {
            advance(r);
            guint32 cp;
            if (hex4(r, &cp) < 0) {
                g_string_free(buf, TRUE);
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF && peek(r) == '\\') {
                advance(r);
                if (peek(r) != 'u') {
                    fail(r, "'u' of a low surrogate");
                    g_string_free(buf, TRUE);
                    return NULL;
                }
                advance(r);
                guint32 lo;
                if (hex4(r, &lo) < 0) {
                    g_string_free(buf, TRUE);
                    return NULL;
                }
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(buf, cp);
            continue;
        }
        default:
            fail(r, "an escape character (\" \\ / b f n r t u)");
            g_string_free(buf, TRUE);
            return NULL;
        }
        advance(r);
    }
    gsize end = r->pos;
    advance(r); /* closing '"' */
    FlVal *v = new_val(r, FL_VAL_STR, line, col);
    if (buf) {
        char *s = arena_alloc(r, buf->len + 1);
        memcpy(s, buf->str, buf->len + 1);
        v->str.s = s;
        v->str.len = buf->len;
        g_string_free(buf, TRUE);
    } else {
        v->str.s = r->data + start;
        v->str.len = end - start;
    }
    return v;
}

/* Parses @n bytes at @p of the form -?[0-9]+ as strtoll would (base 10),
 * without its locale and errno: FALSE when out of the range of int64. */
static gboolean parse_int(const char *p, gsize n, gint64 *out)
{
    gboolean neg = n > 0 && p[0] == '-';
    gsize i = neg;
    if (i == n) return FALSE;
    guint64 limit = neg ? (guint64)G_MAXINT64 + 1 : (guint64)G_MAXINT64;
    guint64 x = 0;
    for (; i < n; i++) {
        if (!g_ascii_isdigit(p[i])) return FALSE;
        guint64 d = (guint64)(p[i] - '0');
        if (x > (limit - d) / 10) return FALSE;
        x = x * 10 + d;
    }
    *out = neg ? (gint64)(0 - x) : (gint64)x;
    return TRUE;
}

/* Turns the number text [start, end) into INT when it is an integer within
 * int64, NUM otherwise. */
static FlVal *number_val(FlReader *r, gsize start, gsize end, gboolean integral,
                         guint32 line, guint32 col)
{
    FlVal *v = new_val(r, FL_VAL_NUM, line, col);
    v->str.s = r->data + start;
    v->str.len = end - start;
    gint64 x;
    if (integral && end - start < 32 && parse_int(r->data + start, end - start, &x)) {
        v->kind = FL_VAL_INT;
        v->i = x;
    }
    return v;
}

/* ---- JSON ------------------------------------------------------------- */

static inline void json_ws(FlReader *r)
{
    /* None of these is a newline: only the column moves. */
    while (r->pos < r->len) {
        char c = r->data[r->pos];
        if (c != ' ' && c != '\t' && c != '\r') return;
        skip_on_line(r, 1);
    }
}

static FlVal *json_value(FlReader *r, int depth);

static gboolean digits(FlReader *r)
{
    if (!g_ascii_isdigit(peek(r))) {
        fail(r, "a digit");
        return FALSE;
    }
    while (g_ascii_isdigit(peek(r))) advance(r);
    return TRUE;
}

static FlVal *json_number(FlReader *r)
{
    guint32 line = r->line, col = r->col;
    gsize start = r->pos;
    /* Note 5: -?(0|[1-9][0-9]{0,17}) not followed by what would continue a
     * number fits an int64 and needs no more care. */
    const char *d = r->data;
    gsize i = start, n = r->len;
    gboolean neg = i < n && d[i] == '-';
    i += neg;
    gsize digits_at = i;
    guint64 x = 0;
    if (i < n && d[i] == '0') {
        i++;
    } else {
        while (i < n && g_ascii_isdigit(d[i]) && i - digits_at < 18) {
            x = x * 10 + (guint64)(d[i] - '0');
            i++;
        }
    }
    if (i > digits_at &&
        (i == n || !(g_ascii_isdigit(d[i]) || d[i] == '.' || d[i] == 'e' || d[i] == 'E'))) {
        skip_on_line(r, i - start);
        FlVal *v = new_val(r, FL_VAL_INT, line, col);
        v->i = neg ? -(gint64)x : (gint64)x;
        v->str.len = i - start;   /* as number_val leaves it */
        return v;
    }
    gboolean integral = TRUE;
    if (peek(r) == '-') advance(r);
    if (peek(r) == '0') advance(r);
    else if (!digits(r)) return NULL;
    if (peek(r) == '.') {
        integral = FALSE;
        advance(r);
        if (!digits(r)) return NULL;
    }
    if (peek(r) == 'e' || peek(r) == 'E') {
        integral = FALSE;
        advance(r);
        if (peek(r) == '+' || peek(r) == '-') advance(r);
        if (!digits(r)) return NULL;
    }
    return number_val(r, start, r->pos, integral, line, col);
}

static FlVal *json_word(FlReader *r)
{
    static const struct { const char *w; FlValKind k; gboolean b; } words[] = {
        { "null", FL_VAL_NULL, FALSE },
        { "true", FL_VAL_BOOL, TRUE },
        { "false", FL_VAL_BOOL, FALSE },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
        gsize n = strlen(words[i].w);
        if (r->len - r->pos >= n && memcmp(r->data + r->pos, words[i].w, n) == 0) {
            FlVal *v = new_val(r, words[i].k, r->line, r->col);
            v->b = words[i].b;
            for (gsize j = 0; j < n; j++) advance(r);
            return v;
        }
    }
    fail(r, "a JSON value");
    return NULL;
}

static FlVal *json_container(FlReader *r, int depth, gboolean is_map)
{
    guint32 line = r->line, col = r->col;
    char close = is_map ? '}' : ']';
    advance(r);
    Items it;
    items_init(&it);
    json_ws(r);
    if (peek(r) == close) {
        advance(r);
    } else {
        for (;;) {
            json_ws(r);
            if (is_map) {
                if (peek(r) != '"') {
                    fail(r, "a string field name");
                    goto bad;
                }
                FlVal *k = read_string(r);
                if (!k) goto bad;
                items_push(&it, k);
                json_ws(r);
                if (peek(r) != ':') {
                    fail(r, "':' after the field name");
                    goto bad;
                }
                advance(r);
                json_ws(r);
            }
            FlVal *v = json_value(r, depth + 1);
            if (!v) goto bad;
            items_push(&it, v);
            json_ws(r);
            int c = peek(r);
            if (c == ',') {
                advance(r);
                continue;
            }
            if (c == close) {
                advance(r);
                break;
            }
            fail(r, is_map ? "',' or '}'" : "',' or ']'");
            goto bad;
        }
    }
    FlVal *v = new_val(r, is_map ? FL_VAL_MAP : FL_VAL_VEC, line, col);
    items_finish(r, &it, v);
    return v;
bad:
    items_drop(&it);
    return NULL;
}

static FlVal *json_value(FlReader *r, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(r, "less nesting");
        return NULL;
    }
    int c = peek(r);
    if (c == '{') return json_container(r, depth, TRUE);
    if (c == '[') return json_container(r, depth, FALSE);
    if (c == '"') return read_string(r);
    if (c == '-' || g_ascii_isdigit(c)) return json_number(r);
    return json_word(r);
}

static int jsonl_next(FlReader *r, const FlVal **out, gsize *offset)
{
    for (;;) {
        json_ws(r);
        if (peek(r) < 0) return 0;
        if (peek(r) == '\n') {
            advance(r);
            continue;
        }
        break;
    }
    if (offset) *offset = r->pos;
    if (peek(r) != '{') {
        fail(r, "'{' to start an event object");
        return -1;
    }
    FlVal *v = json_value(r, 0);
    if (!v) return -1;
    json_ws(r);
    if (peek(r) >= 0 && peek(r) != '\n') {
        fail(r, "end of line after the event object");
        return -1;
    }
    advance(r);
    *out = v;
    return 1;
}

/* ---- EDN -------------------------------------------------------------- */

static void edn_ws(FlReader *r)
{
    for (;;) {
        int c = peek(r);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
            advance(r);
        } else if (c == ';') {
            while (peek(r) >= 0 && peek(r) != '\n') advance(r);
        } else {
            return;
        }
    }
}

static gboolean edn_symbol_char(int c)
{
    return c >= 0 && (g_ascii_isalnum(c) || strchr(".*+!-_?$%&=<>/':#", c) != NULL);
}

static FlVal *edn_form(FlReader *r, int depth);

static FlVal *edn_coll(FlReader *r, int depth, FlValKind kind, char close,
                       guint32 line, guint32 col)
{
    Items it;
    items_init(&it);
    for (;;) {
        edn_ws(r);
        int c = peek(r);
        if (c == close) {
            advance(r);
            break;
        }
        if (c < 0) {
            char what[32];
            g_snprintf(what, sizeof what, "'%c' to close the %s", close,
                       kind == FL_VAL_MAP ? "map" : kind == FL_VAL_SET ? "set"
                       : close == ')' ? "list" : "vector");
            fail(r, what);
            goto bad;
        }
        if (c == ')' || c == ']' || c == '}') {
            char what[16];
            g_snprintf(what, sizeof what, "'%c'", close);
            fail(r, what);
            goto bad;
        }
        FlVal *v = edn_form(r, depth + 1);
        if (!v) goto bad;
        items_push(&it, v);
    }
    if (kind == FL_VAL_MAP && it.n % 2 != 0) {
        fail_at(r, line, col, "expected a map with an even number of forms (key value pairs)");
        goto bad;
    }
    FlVal *v = new_val(r, kind, line, col);
    items_finish(r, &it, v);
    return v;
bad:
    items_drop(&it);
    return NULL;
}

static FlVal *edn_atom(FlReader *r)
{
    guint32 line = r->line, col = r->col;
    gsize start = r->pos;
    int c = peek(r);
    if (c == ':') {
        advance(r);
        gsize s = r->pos;
        while (edn_symbol_char(peek(r))) advance(r);
        if (r->pos == s) {
            fail(r, "a keyword name after ':'");
            return NULL;
        }
        FlVal *v = new_val(r, FL_VAL_KEYWORD, line, col);
        v->str.s = r->data + s;
        v->str.len = r->pos - s;
        return v;
    }
    gboolean signed_num = (c == '-' || c == '+') && r->pos + 1 < r->len &&
                          g_ascii_isdigit(r->data[r->pos + 1]);
    if (g_ascii_isdigit(c) || signed_num) {
        gboolean integral = TRUE;
        advance(r);
        while (g_ascii_isdigit(peek(r))) advance(r);
        if (peek(r) == '.') {
            integral = FALSE;
            advance(r);
            while (g_ascii_isdigit(peek(r))) advance(r);
        }
        if (peek(r) == 'e' || peek(r) == 'E') {
            integral = FALSE;
            advance(r);
            if (peek(r) == '+' || peek(r) == '-') advance(r);
            if (!digits(r)) return NULL;
        }
        if (integral && peek(r) == '/' && r->pos + 1 < r->len &&
            g_ascii_isdigit(r->data[r->pos + 1])) {
            /* Note 6: a ratio, a string of its text (JSON has none). */
            advance(r);
            while (g_ascii_isdigit(peek(r))) advance(r);
            if (edn_symbol_char(peek(r))) {
                fail(r, "a delimiter after the number");
                return NULL;
            }
            FlVal *v = new_val(r, FL_VAL_STR, line, col);
            v->str.s = r->data + start;
            v->str.len = r->pos - start;
            return v;
        }
        gsize end = r->pos;
        if (peek(r) == 'N' || peek(r) == 'M') {
            if (peek(r) == 'M') integral = FALSE;
            advance(r);
        }
        if (edn_symbol_char(peek(r))) {
            fail(r, "a delimiter after the number");
            return NULL;
        }
        gsize s = start;
        if (r->data[s] == '+') s++;
        return number_val(r, s, end, integral, line, col);
    }
    if (edn_symbol_char(c)) {
        while (edn_symbol_char(peek(r))) advance(r);
        gsize n = r->pos - start;
        const char *w = r->data + start;
        if (n == 3 && memcmp(w, "nil", 3) == 0)
            return new_val(r, FL_VAL_NULL, line, col);
        if (n == 4 && memcmp(w, "true", 4) == 0) {
            FlVal *v = new_val(r, FL_VAL_BOOL, line, col);
            v->b = TRUE;
            return v;
        }
        if (n == 5 && memcmp(w, "false", 5) == 0)
            return new_val(r, FL_VAL_BOOL, line, col);
        /* Note 6: any other symbol is a string of its name. */
        FlVal *v = new_val(r, FL_VAL_STR, line, col);
        v->str.s = w;
        v->str.len = n;
        return v;
    }
    fail(r, "an EDN value");
    return NULL;
}

/* Note 6: `##Inf`, `##-Inf`, `##NaN`, the cursor on the second '#'. */
static FlVal *edn_symbolic(FlReader *r, guint32 line, guint32 col)
{
    gsize start = r->pos - 1;
    advance(r);
    gsize s = r->pos;
    while (edn_symbol_char(peek(r))) advance(r);
    gsize n = r->pos - s;
    const char *w = r->data + s;
    if ((n == 3 && memcmp(w, "Inf", 3) == 0) || (n == 4 && memcmp(w, "-Inf", 4) == 0) ||
        (n == 3 && memcmp(w, "NaN", 3) == 0)) {
        FlVal *v = new_val(r, FL_VAL_STR, line, col);
        v->str.s = r->data + start;
        v->str.len = r->pos - start;
        return v;
    }
    fail_at(r, line, col, "expected ##Inf, ##-Inf or ##NaN");
    return NULL;
}

/* Note 6: a character literal, the cursor on its '\\'. */
static FlVal *edn_char(FlReader *r)
{
    static const struct { const char *name; char c; } named[] = {
        { "newline", '\n' }, { "return", '\r' }, { "space", ' ' }, { "tab", '\t' },
        { "formfeed", '\f' }, { "backspace", '\b' },
    };
    guint32 line = r->line, col = r->col;
    advance(r);
    gsize s = r->pos;
    int c = peek(r);
    if (c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        fail(r, "a character after '\\'");
        return NULL;
    }
    advance(r);   /* the character itself, which may be a delimiter: \( */
    while (g_ascii_isalnum(peek(r))) advance(r);
    gsize n = r->pos - s;
    const char *w = r->data + s;
    FlVal *v = new_val(r, FL_VAL_STR, line, col);
    if (n == 1 || (unsigned char)w[0] >= 0x80) {
        /* One character; a UTF-8 one is its bytes up to the delimiter. */
        while ((unsigned char)peek(r) >= 0x80 && (unsigned char)w[0] >= 0x80 &&
               (peek(r) & 0xC0) == 0x80)
            advance(r);
        v->str.s = w;
        v->str.len = r->pos - s;
        return v;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(named); i++) {
        if (strlen(named[i].name) == n && memcmp(w, named[i].name, n) == 0) {
            char *t = arena_alloc(r, 1);
            t[0] = named[i].c;
            v->str.s = t;
            v->str.len = 1;
            return v;
        }
    }
    if (w[0] == 'u' && n == 5) {
        guint32 cp = 0;
        gboolean ok = TRUE;
        for (gsize i = 1; i < 5; i++) {
            ok &= g_ascii_isxdigit(w[i]);
            if (ok) cp = cp * 16 + (guint32)g_ascii_xdigit_value(w[i]);
        }
        if (ok) {
            char *t = arena_alloc(r, 6);
            v->str.len = (gsize)g_unichar_to_utf8(cp, t);
            v->str.s = t;
            return v;
        }
    }
    fail_at(r, line, col, "expected a character literal: \\c, \\newline, \\return, "
            "\\space, \\tab, \\formfeed, \\backspace or \\uXXXX");
    return NULL;
}

static FlVal *edn_form(FlReader *r, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(r, "less nesting");
        return NULL;
    }
    for (;;) {
        edn_ws(r);
        guint32 line = r->line, col = r->col;
        int c = peek(r);
        switch (c) {
        case '{': advance(r); return edn_coll(r, depth, FL_VAL_MAP, '}', line, col);
        case '[': advance(r); return edn_coll(r, depth, FL_VAL_VEC, ']', line, col);
        case '(': advance(r); return edn_coll(r, depth, FL_VAL_VEC, ')', line, col);
        case '"': return read_string(r);
        case '#':
            advance(r);
            if (peek(r) == '{') {
                advance(r);
                return edn_coll(r, depth, FL_VAL_SET, '}', line, col);
            }
            if (peek(r) == '_') {
                advance(r);
                if (!edn_form(r, depth + 1)) return NULL;
                continue;   /* the discarded form is skipped */
            }
            if (peek(r) == '#') return edn_symbolic(r, line, col);
            if (g_ascii_isalpha(peek(r))) {
                /* Note 6: a tagged literal is its form. */
                while (edn_symbol_char(peek(r))) advance(r);
                edn_ws(r);
                if (peek(r) < 0 || peek(r) == ')' || peek(r) == ']' || peek(r) == '}') {
                    fail(r, "a value after the tag");
                    return NULL;
                }
                continue;
            }
            fail(r, "'{', '_', '#' or a tag after '#'");
            return NULL;
        case '\\':
            return edn_char(r);
        default:
            if (c < 0) {
                fail(r, "an EDN value");
                return NULL;
            }
            return edn_atom(r);
        }
    }
}

/* Skips whitespace, comments and `#_` discarded forms between events. */
static gboolean edn_skip(FlReader *r)
{
    for (;;) {
        edn_ws(r);
        if (peek(r) != '#' || r->pos + 1 >= r->len || r->data[r->pos + 1] != '_')
            return TRUE;
        advance(r);
        advance(r);
        if (!edn_form(r, 0)) return FALSE;
    }
}

static int edn_next(FlReader *r, const FlVal **out, gsize *offset)
{
    if (!edn_skip(r)) return -1;
    if (!r->edn_started) {
        r->edn_started = TRUE;
        int c = peek(r);
        if (c == '[' || c == '(') {
            r->edn_in_seq = TRUE;
            r->edn_close = c == '[' ? ']' : ')';
            advance(r);
            if (!edn_skip(r)) return -1;
        }
    }
    if (r->edn_in_seq) {
        if (peek(r) == r->edn_close) {
            advance(r);
            r->edn_in_seq = FALSE;
            edn_ws(r);
            if (peek(r) >= 0) {
                fail(r, "end of input after the history's closing bracket");
                return -1;
            }
            return 0;
        }
        if (peek(r) < 0) {
            char what[40];
            g_snprintf(what, sizeof what, "'%c' to close the history",
                       r->edn_close);
            fail(r, what);
            return -1;
        }
    } else if (peek(r) < 0) {
        return 0;
    }
    if (offset) *offset = r->pos;
    gboolean tagged = peek(r) == '#' && r->pos + 1 < r->len &&
                      g_ascii_isalpha(r->data[r->pos + 1]);
    if (peek(r) != '{' && !tagged) {
        fail(r, "'{' to start an event map");
        return -1;
    }
    guint32 line = r->line, col = r->col;
    FlVal *v = edn_form(r, 0);
    if (!v) return -1;
    if (v->kind != FL_VAL_MAP) {
        /* A record such as #jepsen.history.Op{...} is an event; another
         * tagged value is not. */
        fail_at(r, line, col, "expected an event map, got a tagged value that is not a map");
        return -1;
    }
    *out = v;
    return 1;
}

int fl_reader_next(FlReader *r, const FlVal **out, gsize *offset, GError **err)
{
    if (r->done) return 0;
    arena_reset(r);
    int rc = r->fmt == FL_FORMAT_JSONL ? jsonl_next(r, out, offset)
                                       : edn_next(r, out, offset);
    if (rc < 0) {
        if (!r->error) fail(r, "valid input");
        g_propagate_error(err, r->error);
        r->error = NULL;
        r->done = TRUE;
    } else if (rc == 0) {
        r->done = TRUE;
    }
    return rc;
}

const FlVal *fl_reader_event_at(FlReader *r, gsize offset, guint32 line)
{
    if (offset >= r->len) return NULL;
    arena_reset(r);
    r->pos = offset;
    r->line = line;
    r->col = 1;
    FlVal *v = r->fmt == FL_FORMAT_JSONL ? json_value(r, 0) : edn_form(r, 0);
    g_clear_error(&r->error);
    r->done = TRUE;   /* the cursor no longer follows the stream */
    return v;
}

const FlVal *fl_reader_value_at(FlReader *r, gsize offset, gsize len,
                                guint32 line, guint32 col, GError **err)
{
    g_assert(r->fmt == FL_FORMAT_JSONL);
    g_assert(offset <= r->len && len <= r->len - offset);
    arena_reset(r);
    g_clear_error(&r->error);
    gsize full = r->len;
    r->len = offset + len;   /* so that nothing past the value is read */
    r->pos = offset;
    r->line = line;
    r->col = col;
    /* Depth 1: a field of the event, as inside json_container. */
    FlVal *v = json_value(r, 1);
    if (v && r->pos != r->len) {
        fail(r, "the end of the value");
        v = NULL;
    }
    r->len = full;
    r->done = TRUE;   /* the cursor no longer follows the stream */
    if (v == NULL) {
        if (!r->error) fail(r, "a JSON value");
        g_propagate_error(err, r->error);
        r->error = NULL;
    }
    return v;
}

/* ---- helpers on trees ------------------------------------------------- */

const FlVal *fl_val_get(const FlVal *m, const char *name)
{
    if (m == NULL || m->kind != FL_VAL_MAP) return NULL;
    gsize n = strlen(name);
    for (gsize i = 0; i + 1 < m->seq.n; i += 2) {
        const FlVal *k = m->seq.items[i];
        if ((k->kind == FL_VAL_KEYWORD || k->kind == FL_VAL_STR) &&
            k->str.len == n && memcmp(k->str.s, name, n) == 0)
            return m->seq.items[i + 1];
    }
    return NULL;
}

const char *fl_val_kind_name(const FlVal *v)
{
    if (v == NULL) return "nothing";
    switch (v->kind) {
    case FL_VAL_NULL: return "null";
    case FL_VAL_BOOL: return "a boolean";
    case FL_VAL_INT: return "an integer";
    case FL_VAL_NUM: return "a non-integer number";
    case FL_VAL_STR: return "a string";
    case FL_VAL_KEYWORD: return "a keyword";
    case FL_VAL_VEC: return "an array";
    case FL_VAL_SET: return "a set";
    case FL_VAL_MAP: return "a map";
    }
    return "?";
}

static void json_escape(const char *s, gsize n, GString *out)
{
    g_string_append_c(out, '"');
    for (gsize i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (c < 0x20) g_string_append_printf(out, "\\u%04x", c);
            else g_string_append_c(out, (char)c);
        }
    }
    g_string_append_c(out, '"');
}

void fl_val_to_json(const FlVal *v, GString *out)
{
    switch (v->kind) {
    case FL_VAL_NULL: g_string_append(out, "null"); return;
    case FL_VAL_BOOL: g_string_append(out, v->b ? "true" : "false"); return;
    case FL_VAL_INT: {
        /* What "%" G_GINT64_FORMAT prints, without printf: canonical()
         * writes every integer of every composite value it interns. */
        char buf[24], *p = buf + sizeof buf;
        guint64 x = v->i < 0 ? 0 - (guint64)v->i : (guint64)v->i;
        do {
            *--p = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        if (v->i < 0) *--p = '-';
        g_string_append_len(out, p, buf + sizeof buf - p);
        return;
    }
    case FL_VAL_NUM: g_string_append_len(out, v->str.s, (gssize)v->str.len); return;
    case FL_VAL_STR:
    case FL_VAL_KEYWORD: json_escape(v->str.s, v->str.len, out); return;
    case FL_VAL_VEC:
    case FL_VAL_SET:
        g_string_append_c(out, '[');
        for (gsize i = 0; i < v->seq.n; i++) {
            if (i) g_string_append_c(out, ',');
            fl_val_to_json(v->seq.items[i], out);
        }
        g_string_append_c(out, ']');
        return;
    case FL_VAL_MAP:
        g_string_append_c(out, '{');
        for (gsize i = 0; i + 1 < v->seq.n; i += 2) {
            if (i) g_string_append_c(out, ',');
            const FlVal *k = v->seq.items[i];
            if (k->kind == FL_VAL_STR || k->kind == FL_VAL_KEYWORD) {
                fl_val_to_json(k, out);
            } else {
                GString *ks = g_string_new(NULL);
                fl_val_to_json(k, ks);
                json_escape(ks->str, ks->len, out);
                g_string_free(ks, TRUE);
            }
            g_string_append_c(out, ':');
            fl_val_to_json(v->seq.items[i + 1], out);
        }
        g_string_append_c(out, '}');
        return;
    }
}
