/* protocols/clocksync.h: the clock synchronisation protocol's message
 * codec and its offset arithmetic (protocols/clocksync.c, notes 2 to 5),
 * exposed for the unit tests (tests/course/test_clocksync.c).
 *
 * Memory: nothing here allocates; the caller owns every buffer and
 * message.  All times are nanoseconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CS_REQ = 0x81, CS_RESP, CS_ADJ };
#define CS_MSG_LEN 33

typedef struct CsMsg {
    uint8_t type;
    uint64_t seq;
    int64_t t1, t2, t3;   /* REQ: t1; RESP: t1 echoed, t2, t3; ADJ: t1 = the adjustment */
} CsMsg;

/* Encodes @m into @buf (@cap >= CS_MSG_LEN, borrowed); returns the length. */
size_t cs_encode(const CsMsg *m, uint8_t *buf, size_t cap);
/* Decodes @len bytes of @buf into @m (the caller's); false when they are
 * not exactly one message of a known type with every time in
 * [-2^62, 2^62] (far from overflow in the arithmetic below): the message
 * must then be dropped. */
bool cs_decode(const uint8_t *buf, size_t len, CsMsg *m);

/* Note 3, Cristian: the server's time @t3 plus half the round trip
 * @t1..@t4 (the client's clock), minus the client's clock now: what to add
 * to the client's clock.  *@bound (if not NULL) gets the error bound,
 * half the round trip. */
int64_t cs_cristian_offset(int64_t t1, int64_t t3, int64_t t4, int64_t *bound);
/* Note 4, NTP: offset ((t2 - t1) + (t3 - t4)) / 2; *@bound (if not NULL)
 * gets half the round trip less the server's time, ((t4 - t1) - (t3 -
 * t2)) / 2. */
int64_t cs_ntp_offset(int64_t t1, int64_t t2, int64_t t3, int64_t t4, int64_t *bound);
/* Note 5, Berkeley: the average of @k offsets (the master's own, 0,
 * among them) leaving out those more than @threshold from their median,
 * the fault-tolerant average of Gusella and Zatti.  @off is reordered. */
int64_t cs_berkeley_average(int64_t *off, uint32_t k, int64_t threshold);
