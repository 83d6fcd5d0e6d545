/* The table of workload models. */
#include "sim/workload.h"

#include <inttypes.h>
#include <string.h>

extern const FlWorkloadModel fl_workload_register;
extern const FlWorkloadModel fl_workload_kv;
extern const FlWorkloadModel fl_workload_txn;
extern const FlWorkloadModel fl_workload_set;
extern const FlWorkloadModel fl_workload_counter;
extern const FlWorkloadModel fl_workload_mapreduce;
extern const FlWorkloadModel fl_workload_files;
extern const FlWorkloadModel fl_workload_stream;
extern const FlWorkloadModel fl_workload_events;
extern const FlWorkloadModel fl_workload_list_append;
extern const FlWorkloadModel fl_workload_rw_register;

static const FlWorkloadModel *const models[] = {
    &fl_workload_register,
    &fl_workload_kv,
    &fl_workload_txn,
    &fl_workload_set,
    &fl_workload_counter,
    &fl_workload_mapreduce,
    &fl_workload_files,
    &fl_workload_stream,
    &fl_workload_events,
    &fl_workload_list_append,
    &fl_workload_rw_register,
    NULL,
};

const FlWorkloadModel *const *fl_workload_models(void)
{
    return models;
}

const FlWorkloadModel *fl_workload_model_find(const char *name)
{
    if (strcmp(name, "cas-register") == 0)
        name = "register";
    for (const FlWorkloadModel *const *m = models; *m; m++)
        if (strcmp((*m)->name, name) == 0)
            return *m;
    return NULL;
}

int64_t fl_workload_fresh(FlWorkloadGen *g, uint32_t key)
{
    int64_t v = ++g->next_value;
    int64_t *recent = &g->recent[(size_t)key * FL_RECENT];
    memmove(recent + 1, recent, (FL_RECENT - 1) * sizeof *recent);
    recent[0] = v;
    return v;
}

void fl_json_text(GString *s, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    g_string_append_c(s, '"');
    /* Runs of characters that need no escape are copied at once. */
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c != '"' && c != '\\' && c >= 0x20 && c < 0x7f)
            continue;
        g_string_append_len(s, p + run, (gssize)(i - run));
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            g_string_append_len(s, e, 2);
        } else {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            g_string_append_len(s, e, 6);
        }
    }
    g_string_append_len(s, p + run, (gssize)(len - run));
    g_string_append_c(s, '"');
}
