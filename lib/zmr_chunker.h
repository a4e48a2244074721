/*  zmr_chunker: cuts a list of inputs into chunks at whitespace, so that no
    word is ever split and no word spans two inputs. A chunk is at least
    chunk_size bytes (unless its input ends first) and ends just after a
    whitespace byte or at the end of its input; a word longer than
    chunk_size makes its chunk longer, up to max_chunk: a word of exactly
    max_chunk bytes is a chunk of its own, which ends just before the
    whitespace after it. A longer word fails. Cut at lines instead
    (zmr_chunker_set_cut), a chunk ends just after a '\n' or at the end of
    its input, and a line counts with its '\n': one longer than max_chunk
    fails. */
#ifndef ZMR_CHUNKER_H
#define ZMR_CHUNKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;          //  The chunk's bytes, the caller's to free(); NULL
                         //  for a chunk by reference (see set_by_reference)
    size_t len;          //  Length of the chunk in bytes
    uint32_t input;      //  Index of the input in the list given to new
    uint64_t offset;     //  Byte offset of the chunk in that input
    uint64_t device;     //  By reference: st_dev of the file read
    uint64_t inode;      //  By reference: st_ino of the file read
} zmr_chunk_t;

typedef struct _zmr_chunker_t zmr_chunker_t;

//  Creates a chunker over npaths inputs; "-" is standard input, and
//  "tcp://HOST:PORT" a stream read from a TCP server (connected to when its
//  turn comes, read until the server closes). Checks that every file can be
//  opened for reading (each is opened again when its turn comes). On failure returns NULL and writes a one-line reason naming the
//  path into errbuf (errlen bytes).
zmr_chunker_t *
    zmr_chunker_new (const char *const *paths, size_t npaths,
                     size_t chunk_size, size_t max_chunk,
                     char *errbuf, size_t errlen);

//  Destroys the chunker, closing any open input; accepts NULL.
void
    zmr_chunker_destroy (zmr_chunker_t **self_p);

//  Reads the next chunk into *chunk (the caller owns chunk->data).
//  Returns 1 with a chunk, 0 when every input is exhausted, -1 on a read
//  error or a word longer than max_chunk (see zmr_chunker_error), and, when
//  non-blocking, 2 when a pipe or terminal has no more input yet (wait for
//  zmr_chunker_fd to be readable, then call again; nothing is lost), or
//  after reading 8 MiB for one chunk without finding its cut (a long word:
//  the fd is readable, call again soon; the scan goes on where it stopped).
int
    zmr_chunker_next (zmr_chunker_t *self, zmr_chunk_t *chunk);

//  In non-blocking mode, next() never waits for a pipe, FIFO or terminal
//  (regular files are read as always).
void
    zmr_chunker_set_nonblocking (zmr_chunker_t *self, bool nonblocking);

//  With by_reference, chunks of regular files come without their bytes
//  (data NULL): the chunker reads only around each cut, to find the
//  whitespace, and whoever maps the chunk reads it from the file. Streams
//  still come with their bytes. Call before the first next().
void
    zmr_chunker_set_by_reference (zmr_chunker_t *self, bool by_reference);

//  Cuts at line ends instead of whitespace (zmr_cut_t): a chunk then ends
//  just after a '\n' or at the end of its input, a line is never split,
//  and a line longer than max_chunk fails naming its input and offset.
//  zmr_chunker_flush cuts at the last '\n'. Call before the first next().
void
    zmr_chunker_set_cut (zmr_chunker_t *self, int cut);

//  The descriptor being read now, or -1 (between inputs).
int
    zmr_chunker_fd (zmr_chunker_t *self);

//  One-line reason for the last -1 of zmr_chunker_next, borrowed.
const char *
    zmr_chunker_error (zmr_chunker_t *self);

//  Sum of the sizes of the inputs that are regular files, and whether every
//  input is one (else the total is unknown until the end).
uint64_t
    zmr_chunker_known_bytes (zmr_chunker_t *self, int *all_known);

//  Spools every input that is standard input or not a regular file (a pipe,
//  a FIFO, a terminal) to "<prefix>.<input>": each byte read from it is
//  written there before it is used. With resume, bytes already in a spool
//  are read again first and the live input goes on after them (the caller
//  gives the rest of the stream, as zmr run does by handing the same
//  standard input to a ventilator started again); without, old spools are
//  emptied. Call before the first next(). Returns 0, or -1 with a one-line
//  reason in errbuf.
int
    zmr_chunker_spool (zmr_chunker_t *self, const char *prefix, bool resume,
                       char *errbuf, size_t errlen);

//  Gives the disk space of the current spool's bytes before offset back
//  (every chunk holding them is done: they are never read again as text),
//  when input is the input being read. The spool keeps its size and
//  offsets (a hole reads as zeros: a restarted chunker cuts those chunks
//  again as they were, and the journal says they are done). Returns 0, or
//  -1 when the file system cannot (the space stays used).
int
    zmr_chunker_release (zmr_chunker_t *self, uint32_t input, uint64_t offset);

//  fsyncs the spool being written, if any. Returns 0 or -1.
int
    zmr_chunker_sync (zmr_chunker_t *self);

//  Deletes every spool file (the job is over).
void
    zmr_chunker_remove_spools (zmr_chunker_t *self);

//  Starts reading at input, offset instead of the first input's start: the
//  inputs before are skipped, and so are offset bytes of input (of a stream,
//  its spool holds them). For a restart after a journal was written anew;
//  before the first next() only. Returns 0, or -1 (called late, or no such
//  input); an input that cannot start there fails the first next().
int
    zmr_chunker_seek (zmr_chunker_t *self, uint32_t input, uint64_t offset);

//  Makes the next chunk not yet cut by an earlier replay() exactly the
//  given one: inputs are cut as they were before a restart, whatever sizes
//  reads returned then. Chunks are given in the order they were cut. A
//  later next() that finds the input different (shorter, or the chunk
//  elsewhere) fails naming the input. Returns 0, or -1 (out of memory, or
//  len 0 or over max_chunk).
int
    zmr_chunker_replay (zmr_chunker_t *self, uint32_t input, uint64_t offset,
                        uint64_t len);

//  Bytes of the current input read and not yet handed out in a chunk, if
//  it is a stream (its text waiting for the chunk to fill); 0 for a file.
size_t
    zmr_chunker_pending (zmr_chunker_t *self);

//  Cuts what is pending of a stream now, at its last whitespace byte (its
//  last '\n' when cutting lines), however short the chunk: for a stream
//  that has waited long enough (the flush interval). Returns 1 with a
//  chunk, 0 when nothing can be cut (nothing pending, no whitespace in it
//  yet, a file by reference, or cuts still to replay), -1 as next().
int
    zmr_chunker_flush (zmr_chunker_t *self, zmr_chunk_t *chunk);

//  Bytes handed out in chunks so far.
uint64_t
    zmr_chunker_bytes_read (zmr_chunker_t *self);

#endif
