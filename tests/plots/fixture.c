#include "tests/plots/fixture.h"

#include "sim/run.h"

#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

char *fixture_run(const char *name, bool check)
{
    GError *err = NULL;
    g_autofree char *path = g_strdup_printf("scenarios/00-basics/%s.json", name);
    FlScenario *sc = fl_scenario_load(path, -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    char *dir = g_dir_make_tmp("faultline-plots-XXXXXX", &err);
    assert_non_null(dir);
    FlRunOptions opt = { .out_dir = dir, .write_trace = true, .check = check, .check_timeout_s = 60 };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s", err->message);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    return dir;
}

void fixture_rm(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            fixture_rm(p);
        else
            g_unlink(p);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

/* Not inlined: inlined into its callers, gcc 12 -O3 takes every pointer
 * into the text it returns for one dangling into its local variable. */
G_GNUC_NO_INLINE char *fixture_read(const char *path)
{
    char *text = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err))
        fail_msg("%s", err->message);
    return text;
}

GArray *fixture_block_rows(const char *path)
{
    g_autofree char *text = fixture_read(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(guint));
    guint blanks = 0, cur = 0;
    bool any = false;
    for (int i = 0; lines[i]; i++) {
        if (!*lines[i]) {
            blanks++;
            continue;
        }
        if (blanks >= 2 && any) {
            g_array_append_val(rows, cur);
            cur = 0;
        }
        blanks = 0;
        if (lines[i][0] == '#')
            continue;
        cur++;
        any = true;
    }
    if (any)
        g_array_append_val(rows, cur);
    return rows;
}

char *fixture_block_title(const char *path, guint k)
{
    g_autofree char *text = fixture_read(path);
    g_autofree char *head = g_strdup_printf("# series %u: ", k);
    const char *p = strstr(text, head);
    if (!p)
        return NULL;
    p += strlen(head);
    const char *end = strstr(p, " (");
    const char *nl = strchr(p, '\n');
    if (!end || (nl && nl < end))
        end = nl;
    return g_strndup(p, (gsize)(end - p));
}

guint fixture_count(const char *hay, const char *needle)
{
    guint n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}
