/*  zmr_argv: a growing, bounded argument vector. The array always has room
    for its ending NULL, so items () never allocates and never fails but
    for an earlier failed add. */
#include "zmr_argv.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _zmr_argv_t {
    char **items;                    //  size arguments, then NULL (owned)
    size_t size;                     //  Arguments held
    size_t room;                     //  Slots in items, the NULL's included
    size_t limit;                    //  Most arguments allowed
    bool failed;                     //  An add failed: refuse the rest
    zmr_argv_realloc_fn *realloc_fn; //  Where memory comes from
};

static void *
s_default_realloc (void *ptr, size_t size)
{
    return realloc (ptr, size);
}

zmr_argv_t *
zmr_argv_new (size_t limit)
{
    zmr_argv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->limit = limit;
    self->realloc_fn = s_default_realloc;
    //  Room from the start, so that even an empty vector ends in NULL.
    self->room = 8;
    self->items = calloc (self->room, sizeof *self->items);
    if (!self->items) {
        free (self);
        return NULL;
    }
    return self;
}

void
zmr_argv_destroy (zmr_argv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmr_argv_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++)
        free (self->items[i]);
    free (self->items);
    free (self);
    *self_p = NULL;
}

void
zmr_argv_set_realloc (zmr_argv_t *self, zmr_argv_realloc_fn *fn)
{
    self->realloc_fn = fn? fn: s_default_realloc;
}

//  Makes room for one more argument and the NULL after it. Returns 0 or -1.
static int
s_reserve (zmr_argv_t *self)
{
    if (self->size >= self->limit)
        return -1;
    if (self->size + 2 <= self->room)
        return 0;
    if (self->room > SIZE_MAX / 2 / sizeof *self->items)
        return -1;
    size_t room = self->room * 2;
    char **items = self->realloc_fn (self->items, room * sizeof *items);
    if (!items)
        return -1;
    self->items = items;
    self->room = room;
    return 0;
}

//  Takes text (made with realloc_fn) as the next argument: s_reserve made room.
static int
s_append (zmr_argv_t *self, char *text)
{
    self->items[self->size++] = text;
    self->items[self->size] = NULL;
    return 0;
}

static int
s_fail (zmr_argv_t *self)
{
    self->failed = true;
    return -1;
}

int
zmr_argv_add (zmr_argv_t *self, const char *arg)
{
    if (self->failed || !arg || s_reserve (self))
        return s_fail (self);
    size_t len = strlen (arg);
    char *copy = self->realloc_fn (NULL, len + 1);
    if (!copy)
        return s_fail (self);
    memcpy (copy, arg, len + 1);
    return s_append (self, copy);
}

int
zmr_argv_addf (zmr_argv_t *self, const char *format, ...)
{
    if (self->failed || s_reserve (self))
        return s_fail (self);
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (len < 0)
        return s_fail (self);
    char *text = self->realloc_fn (NULL, (size_t) len + 1);
    if (!text)
        return s_fail (self);
    va_start (args, format);
    vsnprintf (text, (size_t) len + 1, format, args);
    va_end (args);
    return s_append (self, text);
}

bool
zmr_argv_failed (zmr_argv_t *self)
{
    return self->failed;
}

size_t
zmr_argv_size (zmr_argv_t *self)
{
    return self->size;
}

char **
zmr_argv_items (zmr_argv_t *self)
{
    if (self->failed)
        return NULL;
    return self->items;
}
