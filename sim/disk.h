/* sim/disk: one node's durable storage.
 *
 * A disk holds named files.  Each file has what reads see (the cache) and
 * what is durable (written by sync).  A crash keeps only the durable part.
 * Files are kept in the order they were created, so that anything that walks
 * them (a disk fault picking a file) is deterministic.  The disk owns its
 * files; callers' buffers are copied. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct FlDisk FlDisk;

FlDisk *fl_disk_new(void);
void fl_disk_free(FlDisk *d);

void fl_disk_do_write(FlDisk *d, const char *file, const void *data, size_t len);
void fl_disk_do_append(FlDisk *d, const char *file, const void *data, size_t len);
void fl_disk_do_truncate(FlDisk *d, const char *file, size_t len);
void fl_disk_do_sync(FlDisk *d, const char *file);
/* Borrowed view of what reads see; NULL if the file does not exist. */
const uint8_t *fl_disk_do_view(FlDisk *d, const char *file, size_t *len);

/* A crash: every file goes back to its durable content. */
void fl_disk_crash(FlDisk *d);

/* For disk faults: number of files, and file @i's durable bytes (mutable). */
guint fl_disk_files(const FlDisk *d);
GByteArray *fl_disk_durable(FlDisk *d, guint i);
/* The last sync that made bytes durable: the file's index and the offset
 * where those bytes start (0 when the sync rewrote the file).  False if no
 * sync ever did.  For the `disk` fault's torn writes. */
bool fl_disk_last_sync(const FlDisk *d, guint *file, size_t *from);
/* The index (for fl_disk_durable) of the file named @file; false if there
 * is none.  For the `trigger` fault's torn writes. */
bool fl_disk_find(const FlDisk *d, const char *file, guint *i);
/* Bytes syncs made durable since the disk was made (a crash does not
 * reset it): the time series' disk figure. */
uint64_t fl_disk_synced_bytes(const FlDisk *d);
/* Bytes written but not yet synced, summed over files. */
size_t fl_disk_unsynced(const FlDisk *d);
