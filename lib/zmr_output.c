/*  zmr_output: the checks an output gets before a job starts. A check
    does what the write will do, on a small scale: the sink writes a file
    as "PATH.tmp-PID" and renames it into place, so the check makes (and
    removes) that very name, with one byte in it, which fails where the
    real write would fail for want of a directory, permission, a writable
    file system or free space, whoever runs it (root included). */
#include "zmr_output.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_fail (char *err, size_t size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Formats the reason into err and returns -1.
static int
s_fail (char *err, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    if (err && size)
        vsnprintf (err, size, format, args);
    va_end (args);
    return -1;
}

//  Makes probe, writes one byte to it, and removes it. Returns 0, or -1
//  with errno set.
static int
s_probe (const char *probe)
{
    int fd = open (probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd == -1)
        return -1;
    int rc = 0;
    //  One byte: an empty file may still be made on a full disk
    if (write (fd, "\n", 1) != 1 || fsync (fd))
        rc = -1;
    int saved = errno;
    if (close (fd) && rc == 0) {
        rc = -1;
        saved = errno;
    }
    unlink (probe);
    errno = saved;
    return rc;
}

static int
s_check_file (const char *option, const char *path, char *err, size_t size);
static int
s_sweep (const char *path);

int
zmr_output_check_file (const char *option, const char *path, char *err, size_t size)
{
    if (!path || !*path)
        return s_fail (err, size, "%s: an empty file name", option);
    //  A symbolic link is written through (the file it names is replaced)
    struct stat info;
    char *real = lstat (path, &info) == 0 && S_ISLNK (info.st_mode)? realpath (path, NULL)
                                                                    : NULL;
    int rc = s_check_file (option, real? real: path, err, size);
    free (real);
    return rc;
}

static int
s_check_file (const char *option, const char *path, char *err, size_t size)
{
    struct stat info;
    if (stat (path, &info) == 0) {
        if (S_ISDIR (info.st_mode))
            return s_fail (err, size, "%s: '%s' is a directory", option, path);
        if (!S_ISREG (info.st_mode)) {
            //  A device, a pipe, a terminal: written in place (it cannot be
            //  renamed into), so only its permission can be checked.
            if (access (path, W_OK))
                return s_fail (err, size, "%s: cannot write '%s': %s", option, path,
                               strerror (errno));
            return 0;
        }
    }
    else
    if (errno != ENOENT && errno != ENOTDIR)
        return s_fail (err, size, "%s: cannot write '%s': %s", option, path, strerror (errno));
    char probe[4096];
    if (snprintf (probe, sizeof probe, "%s.tmp-%d", path, (int) getpid ())
        >= (int) sizeof probe)
        return s_fail (err, size, "%s: file name too long: '%.64s...'", option, path);
    if (s_probe (probe) == 0)
        return 0;
    int saved = errno;
    //  Name the directory when it is the culprit: "No such file" alone
    //  reads as if the output had to exist.
    if (saved == ENOENT || saved == ENOTDIR) {
        char dir[4096];
        snprintf (dir, sizeof dir, "%s", path);
        char *slash = strrchr (dir, '/');
        struct stat parent;
        if (slash && slash != dir) {
            *slash = 0;
            //  A directory that is there but takes no new file (/proc)
            if (stat (dir, &parent) == 0 && S_ISDIR (parent.st_mode))
                return s_fail (err, size, "%s: cannot write '%s': %s", option, path,
                               strerror (saved));
            return s_fail (err, size, "%s: cannot write '%s': '%s' %s", option, path, dir,
                           saved == ENOENT? "does not exist": "is not a directory");
        }
    }
    return s_fail (err, size, "%s: cannot write '%s': %s", option, path, strerror (saved));
}

//  Whether name is one an earlier run of zmr leaves in a part or window
//  directory: its outputs, its marker, or a temporary file of ours.
static bool
s_ours (const char *name)
{
    if (!strncmp (name, "part-", 5) || !strncmp (name, "window-", 7)
    ||  !strcmp (name, "_SUCCESS") || !strcmp (name, "late.tsv"))
        return true;
    const char *tmp = strstr (name, ".tmp-");
    while (tmp) {
        const char *digits = tmp + 5;
        size_t n = strspn (digits, "0123456789");
        if (n > 0 && digits[n] == 0)
            return true;
        tmp = strstr (tmp + 1, ".tmp-");
    }
    return false;
}

//  mkdir -p: creates dir and every missing parent. Returns 0 or -1 (errno).
static int
s_mkdirs (const char *dir)
{
    char path[4096];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *at = path + 1; *at; at++)
        if (*at == '/') {
            *at = 0;
            if (mkdir (path, 0777) && errno != EEXIST)
                return -1;
            *at = '/';
        }
    if (mkdir (path, 0777) && errno != EEXIST)
        return -1;
    return 0;
}

int
zmr_output_check_dir (const char *option, const char *dir, bool force, char *err,
                      size_t size)
{
    if (!dir || !*dir)
        return s_fail (err, size, "%s: an empty directory name", option);
    if (s_mkdirs (dir))
        return s_fail (err, size, "%s: cannot create '%s': %s", option, dir, strerror (errno));
    struct stat info;
    if (stat (dir, &info))
        return s_fail (err, size, "%s: cannot use '%s': %s", option, dir, strerror (errno));
    if (!S_ISDIR (info.st_mode))
        return s_fail (err, size, "%s: '%s' is not a directory", option, dir);
    char probe[4096];
    if (snprintf (probe, sizeof probe, "%s/.zmr-check.tmp-%d", dir, (int) getpid ())
        >= (int) sizeof probe)
        return s_fail (err, size, "%s: directory name too long: '%.64s...'", option, dir);
    if (s_probe (probe))
        return s_fail (err, size, "%s: cannot write in '%s': %s", option, dir, strerror (errno));
    //  Two passes: what is there and whose, then (with force) removal,
    //  _SUCCESS first so that no run is ever marked complete over a
    //  half-removed directory.
    for (int pass = 0; pass < (force? 3: 1); pass++) {
        DIR *listing = opendir (dir);
        if (!listing)
            return s_fail (err, size, "%s: cannot read '%s': %s", option, dir, strerror (errno));
        struct dirent *entry;
        int rc = 0;
        while (rc == 0 && (entry = readdir (listing))) {
            const char *name = entry->d_name;
            if (!strcmp (name, ".") || !strcmp (name, ".."))
                continue;
            if (pass == 0 && !force)
                rc = s_fail (err, size, "%s: '%s' is not empty (it holds '%s'): use --force "
                             "to replace an earlier run's output, or another directory",
                             option, dir, name);
            else
            if (pass == 0 && !s_ours (name))
                rc = s_fail (err, size, "%s: '%s' holds '%s', which is not a zmr output: "
                             "not removed even with --force; use another directory",
                             option, dir, name);
            else
            if (pass > 0 && (pass == 1) == !strcmp (name, "_SUCCESS")) {
                char path[4096];
                snprintf (path, sizeof path, "%s/%s", dir, name);
                if (unlink (path) && errno != ENOENT)
                    rc = s_fail (err, size, "%s: cannot remove '%s': %s", option, path,
                                 strerror (errno));
            }
        }
        closedir (listing);
        if (rc)
            return rc;
    }
    return 0;
}

int
zmr_output_sweep (const char *path)
{
    //  The temporary files of a link's writes are beside the file it names
    struct stat info;
    char *real = lstat (path, &info) == 0 && S_ISLNK (info.st_mode)? realpath (path, NULL)
                                                                    : NULL;
    int removed = s_sweep (real? real: path);
    free (real);
    return removed;
}

static int
s_sweep (const char *path)
{
    char dir[4096];
    if (snprintf (dir, sizeof dir, "%s", path) >= (int) sizeof dir)
        return 0;
    char *slash = strrchr (dir, '/');
    const char *base = path;
    if (slash) {
        base = path + (slash - dir) + 1;
        *slash = 0;
        if (slash == dir)
            strcpy (dir, "/");
    }
    else
        strcpy (dir, ".");
    size_t len = strlen (base);
    DIR *listing = opendir (dir);
    if (!listing)
        return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir (listing))) {
        const char *name = entry->d_name;
        if (strncmp (name, base, len) || strncmp (name + len, ".tmp-", 5))
            continue;
        const char *digits = name + len + 5;
        size_t n = strspn (digits, "0123456789");
        if (n == 0 || n > 9 || digits[n])
            continue;
        long pid = strtol (digits, NULL, 10);
        //  A process of that number alive may be its writer (or another
        //  process: then the file stays, harmless, until a later sweep)
        if (pid <= 0 || (kill ((pid_t) pid, 0) == 0 || errno != ESRCH))
            continue;
        char temp[4096 + 256];
        snprintf (temp, sizeof temp, "%s/%s", dir, name);
        if (unlink (temp) == 0)
            removed++;
    }
    closedir (listing);
    return removed;
}
