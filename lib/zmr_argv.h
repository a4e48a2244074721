/*  zmr_argv: an argument vector built one argument at a time, for the
    programs zmr run starts. It grows as arguments come (up to a limit the
    caller sets) and fails cleanly: an argument that does not fit, a
    formatted one that cannot be made, or memory that cannot be had marks
    the vector failed, every later add is refused, and the caller checks
    once, before it runs anything, instead of after every add. */
#ifndef ZMR_ARGV_H
#define ZMR_ARGV_H
#include <stdbool.h>
#include <stddef.h>

typedef struct _zmr_argv_t zmr_argv_t;

//  How the vector gets memory: realloc's contract, and what it returns is
//  given back with free. The default is realloc; the unit test sets one
//  that fails on purpose.
typedef void *(zmr_argv_realloc_fn) (void *ptr, size_t size);

//  Creates an empty vector that holds at most limit arguments (not counting
//  the NULL that ends it). Returns NULL if memory is short.
zmr_argv_t *
    zmr_argv_new (size_t limit);

//  Destroys the vector and every argument it copied; accepts NULL.
void
    zmr_argv_destroy (zmr_argv_t **self_p);

//  Allocates through fn from now on (NULL: realloc). For tests.
void
    zmr_argv_set_realloc (zmr_argv_t *self, zmr_argv_realloc_fn *fn);

//  Appends a copy of arg. Returns 0, or -1 (and the vector is failed) if
//  the vector is full or memory is short; -1 at once if already failed.
int
    zmr_argv_add (zmr_argv_t *self, const char *arg);

//  Appends the argument printf would make of format. As zmr_argv_add.
int
    zmr_argv_addf (zmr_argv_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Whether an add failed since the vector was made.
bool
    zmr_argv_failed (zmr_argv_t *self);

//  Number of arguments held.
size_t
    zmr_argv_size (zmr_argv_t *self);

//  The arguments, ended by NULL, for execv; borrowed, valid until the next
//  add or destroy. NULL if the vector failed: nothing half-built is run.
char **
    zmr_argv_items (zmr_argv_t *self);

#endif
