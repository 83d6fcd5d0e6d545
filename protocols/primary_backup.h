/* protocols/primary_backup.h: the two implementations behind the
 * primary-backup protocol, chosen per run by its parameters
 * (primary_backup.c): the classic fixed primary (failover off, mode sync,
 * primary_backup_classic.c) and views with failover. */
#pragma once

#include "sim/node.h"

typedef struct PbClassic PbClassic;

/* The classic implementation's handlers, on a state of
 * fl_pb_classic_size() bytes (zeroed before init and recover). */
size_t fl_pb_classic_size(void);
void fl_pb_classic_init(FlNode *n, void *state);
void fl_pb_classic_recover(FlNode *n, void *state);
void fl_pb_classic_destroy(FlNode *n, void *state);
void fl_pb_classic_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg,
                              size_t len);
void fl_pb_classic_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag);
void fl_pb_classic_on_request(FlNode *n, void *state, const FlRequest *req);
