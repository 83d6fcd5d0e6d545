/* sim/check/atoms.h: interned values.
 *
 * Every value a history mentions (an integer, a string, a composite such as
 * a cas pair) is interned once and named by a small integer, an FlAtom, so
 * that models compare and hash values in O(1).  Keywords intern as the
 * string of the same name (spec/history.md); EDN sets intern with their
 * elements sorted, so two equal sets are one atom.
 *
 * Ownership: the table owns every byte it interns; pointers returned by
 * fl_atoms_bytes are valid until the next intern call.
 */
#pragma once

#include "sim/check/reader.h"
#include <glib.h>

typedef guint32 FlAtom;

#define FL_ATOM_NULL ((FlAtom)0)        /* always the atom of null */
#define FL_ATOM_NONE ((FlAtom)0xffffffffu)

typedef enum {
    FL_ATOM_KIND_NULL = 'n',
    FL_ATOM_KIND_BOOL = 'b',
    FL_ATOM_KIND_INT = 'i',
    FL_ATOM_KIND_STR = 's',
    FL_ATOM_KIND_JSON = 'j',   /* composite or non-integer number: canonical JSON */
} FlAtomKind;

typedef struct FlAtoms FlAtoms;

FlAtoms *fl_atoms_new(void);
void fl_atoms_free(FlAtoms *a);

FlAtom fl_atoms_int(FlAtoms *a, gint64 x);
FlAtom fl_atoms_str(FlAtoms *a, const char *s, gsize len);
/* An atom equal to no value of any history, shown as <@name>. */
FlAtom fl_atoms_placeholder(FlAtoms *a, const char *name);
/* The string atom of @s if it was interned, else FL_ATOM_NONE. */
FlAtom fl_atoms_find_str(const FlAtoms *a, const char *s, gsize len);
/* The string atom for the concatenation of string atoms @x and @y. */
FlAtom fl_atoms_concat(FlAtoms *a, FlAtom x, FlAtom y);
/* Interns any value (@v borrowed). */
FlAtom fl_atoms_value(FlAtoms *a, const FlVal *v);

FlAtomKind fl_atoms_kind(const FlAtoms *a, FlAtom x);
/* Raw bytes: the text of a string (unescaped), 8 bytes of an int, the
 * canonical JSON of a composite. */
const char *fl_atoms_bytes(const FlAtoms *a, FlAtom x, gsize *len);
gint64 fl_atoms_int_value(const FlAtoms *a, FlAtom x);
/* Appends @x as JSON to @out. */
void fl_atoms_to_json(const FlAtoms *a, FlAtom x, GString *out);
guint32 fl_atoms_count(const FlAtoms *a);

/* A 64-bit hash of @len bytes, shared with the search's tables. */
guint64 fl_hash_bytes(const void *p, gsize len, guint64 seed);
