#include "sim/trace.h"

#include "sim/coverage.h"

#include "sim/codec.h"

#include "sim/rng.h"

#include <glib.h>
#include <inttypes.h>
#include <string.h>

void fl_trace_init(FlTrace *t)
{
    t->hash = 0x243f6a8885a308d3ULL;
    t->events = 0;
    t->out = NULL;
}

bool fl_trace_open(FlTrace *t, const char *path)
{
    t->out = fopen(path, "w");
    if (t->out)
        setvbuf(t->out, NULL, _IOFBF, 1 << 16);
    return t->out != NULL;
}

bool fl_trace_close(FlTrace *t)
{
    if (!t->out)
        return true;
    bool ok = !ferror(t->out);
    ok = fclose(t->out) == 0 && ok;
    t->out = NULL;
    return ok;
}

const char *fl_trace_kind_name(FlTraceKind kind)
{
    static const char *const names[] = {
        [FL_TR_SEND] = "send", [FL_TR_DELIVER] = "deliver", [FL_TR_DROP] = "drop",
        [FL_TR_TIMER] = "timer", [FL_TR_CRASH] = "crash", [FL_TR_RESTART] = "restart",
        [FL_TR_PAUSE] = "pause", [FL_TR_RESUME] = "resume", [FL_TR_ROLE] = "role",
        [FL_TR_LOG] = "log", [FL_TR_FAULT] = "fault", [FL_TR_INVOKE] = "invoke",
        [FL_TR_COMPLETE] = "complete", [FL_TR_METRIC] = "metric", [FL_TR_END] = "end",
    };
    return kind < G_N_ELEMENTS(names) && names[kind] ? names[kind] : "?";
}

/* wyhash's folded 64x64->128 multiply: 16 bytes a step, short dependency
 * chains, and every input bit reaches every output bit. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* @n <= 8 bytes at @p as a little-endian number, zero-padded, whatever the
 * host: trace hashes are the same on every machine. */
static inline uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    if (n == 0)
        return 0;   /* an empty message may come as NULL */
    if (FL_CODEC_HOST_LE) {
        memcpy(&v, p, n);
    } else {
        for (size_t k = 0; k < n; k++)
            v |= (uint64_t)p[k] << (8 * k);
    }
    return v;
}

uint64_t fl_trace_bytes_hash(const void *p, size_t len)
{
    const uint8_t *b = p;
    const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    size_t i = 0;
    for (; i + 16 <= len; i += 16)
        h = mum(load_le(b + i, 8) ^ k0, load_le(b + i + 8, 8) ^ h);
    size_t rest = len - i;
    uint64_t w0 = load_le(b + i, rest < 8 ? rest : 8);
    uint64_t w1 = rest > 8 ? load_le(b + i + 8, rest - 8) : 0;
    return mum(mum(w0 ^ k0, w1 ^ h) ^ k1, len ^ k0);
}

static void write_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void fl_trace(FlTrace *t, FlTraceKind kind, FlTime time, uint32_t node, uint32_t peer,
              uint64_t a, uint64_t b, const char *text)
{
    fl_trace_fast(t, kind, time, node, peer, a, b ^ (text ? fl_hash_str(text) : 0));
    if (t->cov)
        fl_coverage_event(t->cov, kind, time, node, peer, a, text);
    if (!t->out)
        return;
    FILE *f = t->out;
    fprintf(f, "{\"t\":%" PRIu64 ",\"ev\":\"%s\"", time, fl_trace_kind_name(kind));
    switch (kind) {
    case FL_TR_SEND:
        fprintf(f, ",\"from\":%u,\"to\":%u,\"len\":%" PRIu64 ",\"hash\":\"%016" PRIx64 "\"",
                node, peer, a, b);
        break;
    case FL_TR_DELIVER:
    case FL_TR_DROP:
        fprintf(f, ",\"from\":%u,\"to\":%u,\"len\":%" PRIu64 ",\"hash\":\"%016" PRIx64 "\"",
                peer, node, a, b);
        break;
    case FL_TR_TIMER:
        fprintf(f, ",\"node\":%u,\"tag\":%" PRIu64, node, a);
        break;
    case FL_TR_INVOKE:
        fprintf(f, ",\"client\":%u,\"node\":%u,\"req\":%" PRIu64, node, peer, a);
        break;
    case FL_TR_COMPLETE:
        fprintf(f, ",\"client\":%u,\"node\":%u,\"req\":%" PRIu64, node, peer, a);
        break;
    case FL_TR_FAULT:
        fprintf(f, ",\"fault\":%" PRIu64, a);
        break;
    case FL_TR_END:
        break;
    default:
        fprintf(f, ",\"node\":%u", node);
        break;
    }
    if (text) {
        fputs(kind == FL_TR_DROP ? ",\"why\":" : ",\"text\":", f);
        write_json_string(f, text);
    }
    fputs("}\n", f);
}
