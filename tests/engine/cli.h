/* tests/engine/cli: running the `faultline` binary from a test.
 *
 * meson sets FAULTLINE to the built binary and runs tests from the source
 * root.  Everything here is static inline so each test file takes only what
 * it uses. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

typedef struct CliResult {
    int status;     /* exit status, or 128 + signal */
    char *out;      /* stdout, caller frees with cli_result_clear */
    char *err;      /* stderr */
} CliResult;

static inline const char *cli_binary(void)
{
    const char *bin = g_getenv("FAULTLINE");
    if (!bin || !*bin) {
        fprintf(stderr, "FAULTLINE is not set (run the tests with meson test)\n");
        abort();
    }
    return bin;
}

/* Runs faultline with @args (NULL-terminated) in @cwd (NULL: ours). */
static inline void cli_runv(CliResult *r, const char *cwd, const char *const *args)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)cli_binary());
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, NULL);
    GError *err = NULL;
    int wait_status = 0;
    memset(r, 0, sizeof *r);
    if (!g_spawn_sync(cwd, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out,
                      &r->err, &wait_status, &err)) {
        fprintf(stderr, "cannot run %s: %s\n", cli_binary(), err->message);
        abort();
    }
    g_ptr_array_free(argv, TRUE);
    if (WIFEXITED(wait_status))
        r->status = WEXITSTATUS(wait_status);
    else if (WIFSIGNALED(wait_status))
        r->status = 128 + WTERMSIG(wait_status);
    else
        r->status = -1;
}

#define cli_run(r, cwd, ...)                                                  \
    do {                                                                      \
        const char *const cli_args_[] = { __VA_ARGS__, NULL };                \
        cli_runv((r), (cwd), cli_args_);                                      \
    } while (0)

static inline void cli_result_clear(CliResult *r)
{
    g_free(r->out);
    g_free(r->err);
    memset(r, 0, sizeof *r);
}

/* The last non-empty line of @text (a new string). */
static inline char *cli_last_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    const char *last = "";
    for (int i = 0; lines[i]; i++)
        if (*lines[i])
            last = lines[i];
    return g_strdup(last);
}

/* Removes a directory tree made by a test (only files and folders). */
static inline void cli_rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(path, name, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                cli_rm_rf(p);
            else
                g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(path);
}

/* Number of entries in a directory, -1 if it cannot be opened. */
static inline int cli_dir_entries(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (!d)
        return -1;
    int n = 0;
    while (g_dir_read_name(d))
        n++;
    g_dir_close(d);
    return n;
}

/* Reads a whole file; fails the test if it cannot. */
static inline char *cli_read_file(const char *path, size_t *len)
{
    char *data = NULL;
    gsize n = 0;
    GError *err = NULL;
    if (!g_file_get_contents(path, &data, &n, &err)) {
        fprintf(stderr, "cannot read %s: %s\n", path, err->message);
        abort();
    }
    if (len)
        *len = n;
    return data;
}
