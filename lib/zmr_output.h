/*  zmr_output: the checks an output gets before a job starts, shared by
    `zmr run` (which checks before it starts any process) and the sink
    (which checks again when started by hand). A file the user asked for
    must be writable where it is asked for; a directory of part files or
    windows must not mix in the files of an earlier run. Each check says
    what is wrong in one line, naming the option and the path. */
#ifndef ZMR_OUTPUT_H
#define ZMR_OUTPUT_H
#include <stdbool.h>
#include <stddef.h>

//  Checks that path can be written as the output named by option (for
//  example "--output"): it is not a directory, its directory exists and
//  can be written (a file is made there and removed), and, if the file
//  exists, it can be replaced (made as PATH.tmp-PID with one byte in it,
//  then removed: fails for root too on a read-only or full file system). An
//  existing file that is not a regular one (a device, a pipe: written in
//  place, never renamed into) need only be writable. A symbolic link is
//  checked as the file it names (written through). Returns 0, or -1 with
//  a one-line reason in err (size bytes), starting with the option's name.
int
    zmr_output_check_file (const char *option, const char *path, char *err, size_t size);

//  Checks a directory of part files or windows, named by option (for
//  example "--parts"): it is created if missing (with its parent), must be
//  writable, and must hold no file, unless force: then what an earlier run
//  wrote there (names starting "part-", "window-", "_SUCCESS", or ending in
//  a ".tmp-N" of ours) is removed, and any other file still makes it
//  refuse. Returns 0, or -1 with a one-line reason in err.
int
    zmr_output_check_dir (const char *option, const char *dir, bool force, char *err,
                          size_t size);

//  Removes what a writer killed before its rename left beside path: files
//  "path.tmp-PID" whose process PID no longer exists. Returns how many.
int
    zmr_output_sweep (const char *path);

#endif
