/*  Without a fuzzing engine, a fuzz target is an ordinary program: it runs
    the target once on every file given (or in a directory given), so the
    seed corpus is a test of the suite. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
s_replay_file (const char *path, size_t *count)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "cannot read '%s'\n", path);
        return -1;
    }
    static uint8_t buffer[1 << 20];
    size_t size = fread (buffer, 1, sizeof buffer, file);
    fclose (file);
    //  A copy of exactly its size, so reads past the end are caught.
    uint8_t *copy = malloc (size? size: 1);
    if (!copy)
        return -1;
    memcpy (copy, buffer, size);
    LLVMFuzzerTestOneInput (copy, size);
    free (copy);
    (*count)++;
    return 0;
}

int
main (int argc, char *argv[])
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat (argv[i], &info)) {
            fprintf (stderr, "cannot read '%s'\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR (info.st_mode)) {
            if (s_replay_file (argv[i], &count))
                return 1;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        struct dirent *entry;
        while (dir && (entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            if (s_replay_file (path, &count))
                return 1;
        }
        if (dir)
            closedir (dir);
    }
    printf ("replayed %zu inputs\n", count);
    return count? 0: 1;
}
