/* Placeholder until the checker lands: every history is "unknown". */
#include "sim/check/check.h"
#include <stdio.h>

FlVerdict fl_check_file(const char *path, const char *model,
                        const char *consistency, const char *format,
                        double timeout_s, GString *report, json_t **json_out,
                        GError **err)
{
    if (json_out) *json_out = NULL;
    return FL_VERDICT_UNKNOWN;
}

int fl_check_main(int argc, char **argv)
{
    fprintf(stderr, "faultline check: not available yet\n");
    return 2;
}

const char *const *fl_check_model_names(void)
{
    static const char *const names[] = { "register", "cas-register", "kv", NULL };
    return names;
}
