/* Appends are the common case (logs), so a sync copies only the tail that
 * was appended since the last sync, unless something else (a rewrite or a
 * truncation) changed the file: then the whole content is copied. */
#include "sim/disk.h"

#include <string.h>

typedef struct File {
    char *name;
    GByteArray *data;     /* what reads see */
    GByteArray *durable;  /* what survives a crash */
    bool rewritten;       /* changed other than by appending since the last sync */
} File;

struct FlDisk {
    GPtrArray *files;     /* of File*, in creation order */
    bool synced;          /* a sync made bytes durable: last_file, last_from say where */
    guint last_file;
    size_t last_from;
    uint64_t synced_bytes;   /* made durable by syncs, ever (time series) */
};

static void file_free(gpointer p)
{
    File *f = p;
    g_free(f->name);
    g_byte_array_unref(f->data);
    g_byte_array_unref(f->durable);
    g_free(f);
}

FlDisk *fl_disk_new(void)
{
    FlDisk *d = g_new0(FlDisk, 1);
    d->files = g_ptr_array_new_with_free_func(file_free);
    return d;
}

void fl_disk_free(FlDisk *d)
{
    if (!d)
        return;
    g_ptr_array_unref(d->files);
    g_free(d);
}

static File *find(FlDisk *d, const char *name, bool create)
{
    for (guint i = 0; i < d->files->len; i++) {
        File *f = g_ptr_array_index(d->files, i);
        if (strcmp(f->name, name) == 0)
            return f;
    }
    if (!create)
        return NULL;
    File *f = g_new0(File, 1);
    f->name = g_strdup(name);
    f->data = g_byte_array_new();
    f->durable = g_byte_array_new();
    g_ptr_array_add(d->files, f);
    return f;
}

void fl_disk_do_write(FlDisk *d, const char *file, const void *data, size_t len)
{
    File *f = find(d, file, true);
    g_byte_array_set_size(f->data, 0);
    if (len)
        g_byte_array_append(f->data, data, (guint)len);
    f->rewritten = true;
}

void fl_disk_do_append(FlDisk *d, const char *file, const void *data, size_t len)
{
    File *f = find(d, file, true);
    if (len)
        g_byte_array_append(f->data, data, (guint)len);
}

void fl_disk_do_truncate(FlDisk *d, const char *file, size_t len)
{
    File *f = find(d, file, false);
    if (f && len < f->data->len) {
        g_byte_array_set_size(f->data, (guint)len);
        f->rewritten = true;
    }
}

void fl_disk_do_sync(FlDisk *d, const char *file)
{
    File *f = find(d, file, false);
    if (!f)
        return;
    if (f->rewritten || f->durable->len > f->data->len) {
        g_byte_array_set_size(f->durable, 0);
        g_byte_array_append(f->durable, f->data->data, f->data->len);
        d->synced_bytes += f->data->len;
        f->rewritten = false;
        d->last_from = 0;
    } else if (f->data->len > f->durable->len) {
        guint have = f->durable->len;
        g_byte_array_append(f->durable, f->data->data + have, f->data->len - have);
        d->synced_bytes += f->data->len - have;
        d->last_from = have;
    } else {
        return;
    }
    d->synced = true;
    for (guint i = 0; i < d->files->len; i++)
        if (g_ptr_array_index(d->files, i) == f)
            d->last_file = i;
}

const uint8_t *fl_disk_do_view(FlDisk *d, const char *file, size_t *len)
{
    File *f = find(d, file, false);
    *len = f ? f->data->len : 0;
    return f ? f->data->data : NULL;
}

void fl_disk_crash(FlDisk *d)
{
    for (guint i = 0; i < d->files->len; i++) {
        File *f = g_ptr_array_index(d->files, i);
        g_byte_array_set_size(f->data, 0);
        g_byte_array_append(f->data, f->durable->data, f->durable->len);
        f->rewritten = false;
    }
}

guint fl_disk_files(const FlDisk *d)
{
    return d->files->len;
}

GByteArray *fl_disk_durable(FlDisk *d, guint i)
{
    File *f = g_ptr_array_index(d->files, i);
    return f->durable;
}

bool fl_disk_last_sync(const FlDisk *d, guint *file, size_t *from)
{
    if (!d->synced)
        return false;
    *file = d->last_file;
    *from = d->last_from;
    return true;
}

uint64_t fl_disk_synced_bytes(const FlDisk *d)
{
    return d->synced_bytes;
}

size_t fl_disk_unsynced(const FlDisk *d)
{
    size_t n = 0;
    for (guint i = 0; i < d->files->len; i++) {
        File *f = g_ptr_array_index(d->files, i);
        if (f->rewritten)
            n += f->data->len;
        else if (f->data->len > f->durable->len)
            n += f->data->len - f->durable->len;
    }
    return n;
}

bool fl_disk_find(const FlDisk *d, const char *file, guint *i)
{
    for (guint k = 0; k < d->files->len; k++) {
        const File *f = g_ptr_array_index(d->files, k);
        if (strcmp(f->name, file) == 0) {
            *i = k;
            return true;
        }
    }
    return false;
}
