/* faults/links: the set of links a network fault acts on, and the node
 * fields every kind reads.
 *
 * Link sets are shared by omission, delay and duplicate.  A link set is read from the
 * fields `from` and `to` (node ids or selectors, default "*") and `clients`
 * (whether client <-> server messages count too), resolved into node sets
 * when the fault starts, and asked about each message.  A client endpoint
 * matches any selector when client links count. */
#pragma once

#include "sim/fault.h"

typedef struct FlLinks {
    FlSelector from, to;
    bool clients;        /* also client <-> server messages */
    bool both;           /* also the reverse direction, to -> from */
    uint32_t nodes;
    bool *src, *dst;     /* resolved at start; owned */
} FlLinks;

/* Reads `from`, `to` and `clients` of @spec into @l (resolved values into
 * @out).  Returns false with jv's error set. */
bool fl_links_parse(FlLinks *l, json_t *spec, const char *path, json_t *out, FlJv *jv,
                    const FlScenario *sc);
/* Resolves the selectors now (a "random" one draws from the faults' stream). */
void fl_links_resolve(FlLinks *l, FlWorld *w);
/* Whether a message from endpoint @from to endpoint @to is on the set. */
bool fl_links_match(const FlLinks *l, uint32_t from, uint32_t to);
/* "from 0 to 1,2" as resolved (caller frees). */
char *fl_links_text(const FlLinks *l);
void fl_links_deinit(FlLinks *l);

/* The stop of a kind that acts through one network filter or scale and
 * keeps its handle (0 while not running) as the FIRST member of its state:
 * removes it, sets it to 0 and records the stop, with @text (borrowed; may
 * be NULL) in fl_fault_net_stop_text.  Does nothing when the handle is 0. */
void fl_fault_net_stop(FlFault *f, FlWorld *w);
void fl_fault_net_stop_text(FlFault *f, FlWorld *w, const char *text);

/* A node set as text: "*" when it holds every node, else "0,2,3"
 * (caller frees). */
char *fl_fault_set_text(const bool *set, uint32_t n);
/* Resolves @sel into the boolean set @set of @n nodes. */
void fl_fault_resolve_set(FlWorld *w, const FlSelector *sel, bool *set, uint32_t n);
/* Reads a required node selector field @key of @spec into @sel (and @out). */
bool fl_fault_node_field(FlJv *jv, json_t *spec, const char *path, const char *key,
                         json_t *out, const FlScenario *sc, FlSelector *sel);
