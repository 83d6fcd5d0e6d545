/* sim/check/model.c: the table of models. */
#include "sim/check/model.h"
#include "sim/check/check.h"

#include <string.h>

static const struct { const char *name; const FlModel *model; } models[] = {
    { "register", &fl_model_register },
    { "cas-register", &fl_model_register },
    { "kv", &fl_model_kv },
    { "mutex", &fl_model_mutex },
    { "set", &fl_model_set },
    { "queue", &fl_model_queue },
    { "counter", &fl_model_counter },
};

const FlModel *fl_model_find(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(models); i++)
        if (strcmp(models[i].name, name) == 0) return models[i].model;
    return NULL;
}

const char *const *fl_check_model_names(void)
{
    static const char *const names[] = {
        "register", "cas-register", "kv", "mutex", "set", "queue", "counter", "txn",
        "files", "mapreduce", "stream",   /* checked by files.c, mapreduce.c, stream.c */
        "list-append", "rw-register",     /* checked by elle.c */
        "events",                         /* checked by events.c (clocks.c, ...) */
        NULL,
    };
    return names;
}

int fl_model_op(const FlModel *m, const char *f, gsize len)
{
    /* The first byte first: this runs once per event of a history. */
    for (int i = 0; m->ops[i]; i++)
        if (m->ops[i][0] == (len ? f[0] : '\0') && strlen(m->ops[i]) == len &&
            memcmp(m->ops[i], f, len) == 0)
            return i;
    return -1;
}

FlAtom fl_state_atom(const guint8 *state, gsize len)
{
    g_assert(len == sizeof(FlAtom));
    FlAtom a;
    memcpy(&a, state, sizeof a);
    return a;
}

void fl_state_set_atom(GByteArray *state, FlAtom a)
{
    g_byte_array_set_size(state, 0);
    g_byte_array_append(state, (const guint8 *)&a, sizeof a);
}
