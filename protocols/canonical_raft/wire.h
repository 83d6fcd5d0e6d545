/* protocols/canonical_raft/wire: canonical/raft's messages as bytes.
 *
 * The library hands its io a `struct raft_message` to send and expects one
 * back from the recv callback; this module turns one into the other with
 * sim/codec, as the library's own uv backend does in uv_encoding.c (the
 * format here is faultline's, not uv's: nothing outside the simulator reads
 * it).  Decoding never trusts the bytes: anything short, long, or with a
 * field no honest peer sends (an unknown type, a boolean that is neither 0
 * nor 1, more entries than bytes) is refused, and the message is dropped.
 *
 * Ownership follows the library's recv contract: a decoded message owns its
 * allocations (the entries array and one batch holding every entry's data,
 * the snapshot's configuration and data, all from raft_malloc), and passing
 * it to the recv callback hands them to the library.  A caller that does not
 * pass it on frees them with craft_message_free. */
#pragma once

#include "sim/codec.h"

#include <glib.h>

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Appends @msg (borrowed) to @w.  server_id and server_address are not
 * sent: the receiver learns the sender from the network. */
void craft_encode(FlWriter *w, const struct raft_message *msg);

/* Decodes @len bytes at @data (borrowed) into *@msg.  Returns false, with
 * nothing left allocated and *@msg unspecified, when the bytes are not a
 * message craft_encode could have written.  On success *@msg owns its
 * allocations (see above); server_id and server_address are left zero for
 * the caller to fill in. */
bool craft_decode(const uint8_t *data, size_t len, struct raft_message *msg);

/* Frees what a decoded message owns (not @msg itself). */
void craft_message_free(struct raft_message *msg);

/* A configuration as bytes (the snapshot file and InstallSnapshot carry
 * one): u32 count, then per server u64 id, the address as a string, u8
 * role. */
void craft_conf_encode(FlWriter *w, const struct raft_configuration *conf);
/* Reads one into @conf (initialised by the caller, empty); false on bad
 * input, with @conf emptied again. */
bool craft_conf_decode(FlReader *r, struct raft_configuration *conf);
