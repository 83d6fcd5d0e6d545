/* disk: a crash that also damages the disk.  The node crashes (volatile
 * state and unsynced bytes lost, as every crash does) and, by `mode`:
 *   lose-unsynced  nothing more;
 *   torn           the last write that a sync made durable is torn: only a
 *                  random prefix of it survives (power failed mid-sector);
 *   corrupt        1 to 4 bytes of one random 512-byte block of one random
 *                  synced file are flipped (a bad sector, bit rot).
 * With `restart_after` the node comes back and `recover` reads the damaged
 * disk: a protocol that does not checksum what it reads will believe it.
 * Damage is drawn from the faults' stream. */
#include "faults/links.h"

#include <string.h>

enum { LOSE_UNSYNCED, TORN, CORRUPT };

typedef struct Disk {
    FlSelector node;
    int mode;
    GArray *crashed;     /* uint32_t */
} Disk;

static bool disk_parse(FlFault *f, json_t *spec, const char *path, json_t *out, FlJv *jv,
                       const FlScenario *sc)
{
    Disk *d = f->state;
    const char *mode;
    if (!fl_fault_node_field(jv, spec, path, "node", out, sc, &d->node) ||
        !fl_jv_string(jv, spec, path, "mode", out, false, "lose-unsynced",
                      "lose-unsynced|torn|corrupt", &mode))
        return false;
    d->mode = strcmp(mode, "torn") == 0 ? TORN : strcmp(mode, "corrupt") == 0 ? CORRUPT : LOSE_UNSYNCED;
    return true;
}

/* Damages the durable content of @disk; describes it in @text. */
static void damage(Disk *d, FlWorld *w, FlDisk *disk, GString *text)
{
    FlRng *rng = fl_world_fault_rng(w);
    if (d->mode == TORN) {
        guint file;
        size_t from;
        GByteArray *b;
        if (!fl_disk_last_sync(disk, &file, &from) ||
            (b = fl_disk_durable(disk, file))->len <= from) {
            g_string_append(text, " (no synced write to tear)");
            return;
        }
        size_t keep = from + (size_t)fl_rng_below(rng, b->len - from);
        g_string_append_printf(text, " tore file #%u: kept %zu of the last write's %zu bytes",
                               file, keep - from, (size_t)b->len - from);
        g_byte_array_set_size(b, (guint)keep);
    } else if (d->mode == CORRUPT) {
        /* Pick among the files that hold synced bytes, in creation order. */
        guint n = fl_disk_files(disk), with = 0;
        for (guint i = 0; i < n; i++)
            with += fl_disk_durable(disk, i)->len > 0;
        if (with == 0) {
            g_string_append(text, " (no synced bytes to corrupt)");
            return;
        }
        guint pick = (guint)fl_rng_below(rng, with), file = 0;
        for (guint i = 0; i < n; i++)
            if (fl_disk_durable(disk, i)->len > 0 && pick-- == 0)
                file = i;
        GByteArray *b = fl_disk_durable(disk, file);
        size_t blocks = (b->len + 511) / 512;
        size_t start = 512 * (size_t)fl_rng_below(rng, blocks);
        size_t span = b->len - start < 512 ? b->len - start : 512;
        uint32_t flips = 1 + (uint32_t)fl_rng_below(rng, 4);
        g_string_append_printf(text, " corrupted file #%u block at %zu:", file, start);
        for (uint32_t k = 0; k < flips; k++) {
            size_t at = start + (size_t)fl_rng_below(rng, span);
            b->data[at] ^= (uint8_t)(1 + fl_rng_below(rng, 255));
            g_string_append_printf(text, " byte %zu", at);
        }
    }
}

static void disk_start(FlFault *f, FlWorld *w)
{
    Disk *d = f->state;
    if (!d->crashed)
        d->crashed = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_array_set_size(d->crashed, 0);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    fl_world_select(w, &d->node, ids);
    g_autoptr(GString) text = g_string_new(NULL);
    static const char *const modes[] = { "lose-unsynced", "torn", "corrupt" };
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        FlDisk *disk = fl_world_disk(w, id);
        g_string_append_printf(text, "%snode %u %s", text->len ? "; " : "", id, modes[d->mode]);
        damage(d, w, disk, text);
        if (fl_world_node_up(w, id)) {
            fl_world_crash(w, id);   /* reads now see the damaged durable bytes */
            g_array_append_val(d->crashed, id);
        } else {
            fl_disk_crash(disk);     /* already down: refresh what recover will read */
        }
    }
    if (ids->len == 0)
        g_string_append(text, "none: no node matched");
    fl_world_fault_event(w, f->index, "disk", "start", text->str);
}

static void disk_stop(FlFault *f, FlWorld *w)
{
    Disk *d = f->state;
    g_autoptr(GString) text = g_string_new("restart node");
    for (guint i = 0; d->crashed && i < d->crashed->len; i++) {
        uint32_t id = g_array_index(d->crashed, uint32_t, i);
        fl_world_restart(w, id);
        g_string_append_printf(text, " %u", id);
    }
    fl_world_fault_event(w, f->index, "disk", "stop", text->str);
}

static void disk_destroy(FlFault *f)
{
    Disk *d = f->state;
    if (d->crashed)
        g_array_free(d->crashed, TRUE);
}

static const FlFaultField disk_fields[] = {
    { "node", "node id or selector that crashes with a damaged disk" },
    { "mode", "lose-unsynced (default: a plain crash), torn (the last synced write is cut short) or corrupt (bytes of a synced block flipped)" },
    { NULL, NULL },
};

const FlFaultKind fl_fault_disk = {
    .name = "disk",
    .summary = "crashes a node and damages its disk: unsynced tail lost, last write torn, or a synced block corrupted",
    .fields = disk_fields,
    .state_size = sizeof(Disk),
    .parse = disk_parse,
    .start = disk_start,
    .stop = disk_stop,
    .destroy = disk_destroy,
    .duration_field = "restart_after",
};
