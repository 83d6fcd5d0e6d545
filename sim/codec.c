#include "sim/codec.h"

#include <glib.h>
#include <string.h>

void fl_writer_init(FlWriter *w, void *buf, size_t cap)
{
    w->data = buf;
    w->len = 0;
    w->cap = buf ? cap : 0;
    w->heap = false;
}

void fl_writer_deinit(FlWriter *w)
{
    if (w->heap)
        g_free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
    w->heap = false;
}

void fl_writer_reset(FlWriter *w)
{
    w->len = 0;
}

uint8_t *fl_writer_reserve_slow(FlWriter *w, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        while (cap - w->len < n)
            cap *= 2;
        if (w->heap) {
            w->data = g_realloc(w->data, cap);
        } else {
            uint8_t *d = g_malloc(cap);
            if (w->len)
                memcpy(d, w->data, w->len);
            w->data = d;
            w->heap = true;
        }
        w->cap = cap;
    }
    uint8_t *p = w->data + w->len;
    w->len += n;
    return p;
}

void fl_put_raw(FlWriter *w, const void *p, size_t len)
{
    if (len)
        memcpy(fl_writer_reserve(w, len), p, len);
}

void fl_put_bytes(FlWriter *w, const void *p, size_t len)
{
    g_assert(len <= UINT32_MAX);
    fl_put_u32(w, (uint32_t)len);
    fl_put_raw(w, p, len);
}

void fl_put_str(FlWriter *w, const char *s)
{
    fl_put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

void fl_reader_init(FlReader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->err = false;
}

const uint8_t *fl_get_raw(FlReader *r, size_t len) { return fl_reader_take(r, len); }

const uint8_t *fl_get_bytes(FlReader *r, size_t *len)
{
    uint32_t n = fl_get_u32(r);
    const uint8_t *p = fl_reader_take(r, n);
    *len = p ? n : 0;
    return p;
}

char *fl_get_str(FlReader *r)
{
    size_t n;
    const uint8_t *p = fl_get_bytes(r, &n);
    if (!p || memchr(p, 0, n)) {
        r->err = true;
        return NULL;
    }
    return g_strndup((const char *)p, n);
}
