/*  zmr_sock: sockets set up the zmr way, on top of zmr_curve. */
#include "zmr.h"
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

zsock_t *
zmr_socket (int type, int64_t max_message, int linger_ms)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    zsock_set_linger (sock, linger_ms);
    //  The limit counts the handshake's commands too: CURVE's HELLO is 200
    //  bytes and its INITIATE carries metadata. Below 4 KiB a socket that
    //  takes only tiny messages (the status XPUB's subscriptions) would
    //  refuse every CURVE peer.
    if (max_message > 0 && (uint64_t) max_message > zmr_max_message ())
        max_message = (int64_t) zmr_max_message ();
    if (max_message > 0 && max_message < 4096)
        max_message = 4096;
    if (max_message > 0)
        zsock_set_maxmsgsize (sock, (int) max_message);
    return sock;
}

//  Whether a process listens on the ipc:// path of endpoint. libzmq
//  removes the socket file of an ipc endpoint before it binds, which would
//  silently take the endpoint from a live process: look first.
static bool
s_ipc_in_use (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) || endpoint[6] == '@')
        return false;
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen (endpoint + 6) >= sizeof addr.sun_path)
        return false;
    strcpy (addr.sun_path, endpoint + 6);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return live;
}

//  The socket files this process bound: libzmq (4.3) does not remove an
//  ipc:// endpoint's file when the socket closes, so a role that exits
//  removes its own at exit, if the file there is still the one it made.
//  Global because atexit handlers take no argument.
#define S_IPC_FILES 8
static struct { char path[108]; dev_t dev; ino_t ino; } s_ipc_files[S_IPC_FILES];
static int s_nipc_files;

static void
s_ipc_files_remove (void)
{
    for (int i = 0; i < s_nipc_files; i++) {
        struct stat st;
        if (lstat (s_ipc_files[i].path, &st) == 0 && S_ISSOCK (st.st_mode)
        &&  st.st_dev == s_ipc_files[i].dev && st.st_ino == s_ipc_files[i].ino)
            unlink (s_ipc_files[i].path);
    }
}

static void
s_ipc_file_made (const char *endpoint)
{
    struct stat st;
    if (strncmp (endpoint, "ipc://", 6) || endpoint[6] == '@' || s_nipc_files == S_IPC_FILES
    ||  strlen (endpoint + 6) >= sizeof s_ipc_files[0].path || lstat (endpoint + 6, &st))
        return;
    if (s_nipc_files == 0)
        atexit (s_ipc_files_remove);
    strcpy (s_ipc_files[s_nipc_files].path, endpoint + 6);
    s_ipc_files[s_nipc_files].dev = st.st_dev;
    s_ipc_files[s_nipc_files].ino = st.st_ino;
    s_nipc_files++;
}

int
zmr_bind (zsock_t *sock, const char *endpoint, char *bound)
{
    if (s_ipc_in_use (endpoint)) {
        zmr_log (0, "cannot bind %s: Address already in use", endpoint);
        return -1;
    }
    if (zmr_curve_server (sock, endpoint))
        return -1;
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        zmr_log (0, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    s_ipc_file_made (endpoint);
    if (bound) {
        size_t size = ZMR_ENDPOINT_MAX;
        if (zmq_getsockopt (zsock_resolve (sock), ZMQ_LAST_ENDPOINT, bound, &size))
            snprintf (bound, ZMR_ENDPOINT_MAX, "%s", endpoint);
    }
    return 0;
}

int
zmr_connect (zsock_t *sock, const char *endpoint, const char *key)
{
    if (zmr_curve_client (sock, endpoint, key))
        return -1;
    //  Roles start together and a peer may not have bound yet: try again
    //  soon (1 ms, not libzmq's 100), doubling up to a second. At 10 ms
    //  the sink, started right after the ventilator, connected before its
    //  bind and joined 7-14 ms after the rest, and the job waited for it.
    zsock_set_reconnect_ivl (sock, 1);
    zsock_set_reconnect_ivl_max (sock, 1000);
    if (zsock_connect (sock, "%s", endpoint) == -1) {
        zmr_log (0, "cannot connect to %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

void
zmr_set_random_identity (zsock_t *sock)
{
    //  A leading zero byte is reserved by ZeroMQ for its own ids.
    uint8_t id[12];
    id[0] = 'z';
    uint32_t pid = (uint32_t) getpid ();
    memcpy (id + 1, &pid, 4);
    zmr_random (id + 5, sizeof id - 5);
    zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, id, sizeof id);
}

