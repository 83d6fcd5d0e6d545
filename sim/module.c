/* sim/module: loading out-of-tree protocol modules.  See sim/module.h.
 *
 * 1. The ABI version is read before anything else of the FlModule: a
 *    module built against another layout may have a different struct, but
 *    the version is its first field in every version.
 * 2. Modules are opened with local binding (G_MODULE_BIND_LOCAL), so two
 *    modules' own helpers never resolve to each other, and eagerly (no
 *    BIND_LAZY): an fl_ call the program does not provide fails at load,
 *    with the loader's message, not in the middle of a run.
 * 3. Lookups walk arrays in load order, never a hash table's order, so
 *    what a name resolves to does not depend on addresses. */
#include "sim/module.h"

#include <gmodule.h>
#include <stdlib.h>
#include <string.h>

typedef struct Loaded {
    char *path;                      /* absolute, canonical */
    const FlProtocol *const *protocols;
} Loaded;

/* Every module loaded, in load order (never freed: modules stay loaded). */
static GPtrArray *loaded;

static bool fail(GError **err, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool fail(GError **err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_FAILED, "module %s: %s", path, why);
    return false;
}

static const char *owner_of(const char *name, const FlProtocol *const *taken)
{
    for (const FlProtocol *const *p = taken; p && *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return "a built-in protocol";
    for (guint i = 0; loaded && i < loaded->len; i++) {
        const Loaded *m = g_ptr_array_index(loaded, i);
        for (const FlProtocol *const *p = m->protocols; *p; p++)
            if (strcmp((*p)->name, name) == 0)
                return m->path;
    }
    return NULL;
}

bool fl_module_load(const char *path, const FlProtocol *const *taken, GError **err)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return fail(err, path, "no such file");
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
        return fail(err, path, "a directory, not a shared object");
    char *canon = realpath(path, NULL);
    if (!canon)
        return fail(err, path, "cannot resolve the path");
    if (!loaded)
        loaded = g_ptr_array_new();
    for (guint i = 0; i < loaded->len; i++) {
        const Loaded *m = g_ptr_array_index(loaded, i);
        if (strcmp(m->path, canon) == 0) {
            free(canon);
            return true;
        }
    }
    GModule *mod = g_module_open(canon, G_MODULE_BIND_LOCAL);
    if (!mod) {
        bool ok = fail(err, path, "not a loadable shared object (%s)", g_module_error());
        free(canon);
        return ok;
    }
    gpointer sym = NULL;
    if (!g_module_symbol(mod, "fl_module", &sym) || !sym) {
        g_module_close(mod);
        free(canon);
        return fail(err, path, "no fl_module symbol (a module's C file ends with "
                               "FL_MODULE(&protocol, ...) from <faultline/node.h>)");
    }
    const FlModule *fm = sym;
    /* Note 1: the version first, before trusting the layout. */
    if (fm->abi_version != FL_ABI_VERSION) {
        uint32_t v = fm->abi_version;
        g_module_close(mod);
        free(canon);
        return fail(err, path, "built for faultline ABI version %u, this program has version %d "
                               "(rebuild it against this faultline's headers)", v, FL_ABI_VERSION);
    }
    const char *bad = NULL;
    if (!fm->protocols || !fm->protocols[0])
        bad = "exports no protocols";
    for (size_t i = 0; !bad && fm->protocols[i]; i++) {
        const FlProtocol *p = fm->protocols[i];
        if (!p->name || !*p->name)
            bad = "a protocol without a name";
        else if (!p->init || !p->on_message)
            bad = "a protocol without init or on_message";
        else {
            const char *owner = owner_of(p->name, taken);
            for (size_t j = 0; !owner && j < i; j++)
                if (strcmp(fm->protocols[j]->name, p->name) == 0)
                    owner = "this module already";
            if (owner) {
                g_autofree char *name = g_strdup(p->name);
                g_autofree char *who = g_strdup(owner);
                g_module_close(mod);
                free(canon);
                return fail(err, path, "protocol \"%s\" is already defined (by %s)", name, who);
            }
        }
    }
    if (bad) {
        g_module_close(mod);
        free(canon);
        return fail(err, path, "%s", bad);
    }
    /* Modules stay loaded: their protocols are borrowed by scenarios. */
    g_module_make_resident(mod);
    Loaded *m = g_new0(Loaded, 1);
    m->path = canon;
    m->protocols = fm->protocols;
    g_ptr_array_add(loaded, m);
    return true;
}

const FlProtocol *fl_module_protocol_find(const char *name)
{
    for (guint i = 0; loaded && i < loaded->len; i++) {
        const Loaded *m = g_ptr_array_index(loaded, i);
        for (const FlProtocol *const *p = m->protocols; *p; p++)
            if (strcmp((*p)->name, name) == 0)
                return *p;
    }
    return NULL;
}

const FlProtocol *fl_module_protocol(size_t i)
{
    for (guint k = 0; loaded && k < loaded->len; k++) {
        const Loaded *m = g_ptr_array_index(loaded, k);
        for (const FlProtocol *const *p = m->protocols; *p; p++)
            if (i-- == 0)
                return *p;
    }
    return NULL;
}
