/*
 * decnet-svd: the socket front end of every MazeNET emulator (what tcpsvd/udpsvd would be,
 * which the offline busybox lacks).
 *
 *   decnet-svd HANDLER PORT/PROTO...      e.g. decnet-svd /opt/decnet/svc/ssh.sh 22/tcp 53/udp
 *
 * TCP: one child per connection runs HANDLER with the socket on stdin and stdout.
 * UDP: one child per datagram runs HANDLER with the datagram on stdin; whatever it prints
 *      (up to 64 KiB) is sent back to the source as one datagram.
 * The handler's fd 3 is the container's stdout (the structured event log), fd 2 stderr.
 * Environment given to the handler: DECNET_SRC, DECNET_SPORT, DECNET_DPORT, DECNET_PROTO
 * (and TCPREMOTEIP/TCPREMOTEPORT or UDPREMOTEIP/UDPREMOTEPORT, as tcpsvd/udpsvd set them).
 * Limits: DECNET_MAX_CHILDREN (default 64) handlers at once, each killed after
 * DECNET_CONN_TIMEOUT seconds (default 120); a connection or datagram past the limit is
 * still recorded (`event=refused` on stdout) and closed or dropped.
 * SIGTERM/SIGINT stop it (it can be PID 1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 32
#define MAX_DGRAM 65536

struct listener {
    int fd;
    int port;
    int udp;
};

static volatile sig_atomic_t children;
static volatile sig_atomic_t stopping;
static struct listener listeners[MAX_LISTENERS];
static int nlisteners;

static void on_child(int sig) {
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        if (children > 0)
            children--;
    errno = saved;
}

static void on_stop(int sig) {
    (void)sig;
    stopping = 1;
}

static long env_long(const char *name, long fallback) {
    const char *value = getenv(name);
    char *end;
    long parsed;
    if (!value || !*value)
        return fallback;
    parsed = strtol(value, &end, 10);
    return (*end || parsed <= 0) ? fallback : parsed;
}

static int open_listener(int port, int udp) {
    int type = udp ? SOCK_DGRAM : SOCK_STREAM;
    int one = 1, zero = 0, fd;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;

    fd = socket(AF_INET6, type, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_any;
        a6.sin6_port = htons((unsigned short)port);
        if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0)
            goto bound;
        close(fd);
    }
    fd = socket(AF_INET, type, 0);  /* IPv6 disabled in this namespace: IPv4 only */
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&a4, sizeof a4) != 0) {
        close(fd);
        return -1;
    }
bound:
    if (!udp && listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The peer as text: IPv4-mapped IPv6 addresses are shown as plain IPv4. */
static void peer_text(const struct sockaddr_storage *ss, char *ip, size_t iplen, int *port) {
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        *port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, iplen);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        *port = ntohs(s4->sin_port);
        inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
    }
}

static void set_env(const char *proto, const char *ip, int sport, int dport) {
    char buf[16];
    setenv("DECNET_PROTO", proto, 1);
    setenv("DECNET_SRC", ip, 1);
    snprintf(buf, sizeof buf, "%d", sport);
    setenv("DECNET_SPORT", buf, 1);
    if (proto[0] == 't') {
        setenv("TCPREMOTEIP", ip, 1);
        setenv("TCPREMOTEPORT", buf, 1);
    } else {
        setenv("UDPREMOTEIP", ip, 1);
        setenv("UDPREMOTEPORT", buf, 1);
    }
    snprintf(buf, sizeof buf, "%d", dport);
    setenv("DECNET_DPORT", buf, 1);
}

/* fork() with SIGCHLD blocked until the parent has counted the child. */
static pid_t counted_fork(void) {
    sigset_t block, old;
    pid_t pid;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid = fork();
    if (pid > 0)
        children++;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}

static void child_signals(void) {
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
}

static void close_listeners(int keep) {
    for (int i = 0; i < nlisteners; i++)
        if (listeners[i].fd != keep)
            close(listeners[i].fd);
}

/* The handler's fds: 0 = in, 1 = out, 2 = stderr, 3 = the container's stdout; no others. */
static void handler_fds(int in, int out) {
    int log = fcntl(1, F_DUPFD, 10);
    int i = fcntl(in, F_DUPFD, 10);
    int o = fcntl(out, F_DUPFD, 10);
    if (log < 0 || i < 0 || o < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(log, 3) < 0)
        _exit(126);
    for (int fd = 4; fd < 1024; fd++)
        close(fd);
}

static void run_handler(char *const argv[]) {
    execv(argv[0], argv);
    fprintf(stderr, "decnet-svd: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Append `value` percent-encoded as the event line wants it (images/README.md). */
static size_t put_value(char *out, size_t at, size_t size, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *value && at + 4 < size; value++) {
        unsigned char c = (unsigned char)*value;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("._~:/@-", c)) {
            out[at++] = (char)c;
        } else {
            out[at++] = '%';
            out[at++] = hex[c >> 4];
            out[at++] = hex[c & 15];
        }
    }
    return at;
}

/* One `refused` event line on stdout (the event log) for a connection past the limit. */
static void log_refused(const char *proto, const char *ip, int sport, int dport, long limit) {
    char line[1024], num[64];
    const char *svc = getenv("DECNET_SERVICE"), *decky = getenv("DECNET_DECKY");
    struct timespec now;
    size_t at;

    clock_gettime(CLOCK_REALTIME, &now);
    at = (size_t)snprintf(line, sizeof line, "DECNET1 ts=%lld.%06ld svc=",
                          (long long)now.tv_sec, now.tv_nsec / 1000);
    at = put_value(line, at, sizeof line, svc && *svc ? svc : "unknown");
    at += (size_t)snprintf(line + at, sizeof line - at, " event=refused src=");
    at = put_value(line, at, sizeof line, ip[0] ? ip : "0.0.0.0");
    snprintf(num, sizeof num, " sport=%d proto=%s dport=%d", sport, proto, dport);
    at += (size_t)snprintf(line + at, sizeof line - at, "%s", num);
    if (decky && *decky) {
        at += (size_t)snprintf(line + at, sizeof line - at, " decky=");
        at = put_value(line, at, sizeof line, decky);
    }
    at += (size_t)snprintf(line + at, sizeof line - at,
                           " reason=connection%%20limit limit=%ld\n", limit);
    if (at < sizeof line && write(1, line, at) < 0) {
        /* a closed log: nothing else to do */
    }
}

static void serve_tcp(struct listener *l, char *const argv[], long timeout) {
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0, conn;
    pid_t pid;

    conn = accept(l->fd, (struct sockaddr *)&ss, &sslen);
    if (conn < 0)
        return;
    peer_text(&ss, ip, sizeof ip, &port);
    if (children >= env_long("DECNET_MAX_CHILDREN", 64)) {
        log_refused("tcp", ip, port, l->port, env_long("DECNET_MAX_CHILDREN", 64));
        close(conn);
        return;
    }
    pid = counted_fork();
    if (pid == 0) {
        child_signals();
        handler_fds(conn, conn);
        set_env("tcp", ip, port, l->port);
        alarm((unsigned)timeout);
        run_handler(argv);
    }
    close(conn);
}

static void udp_exchange(int sock, const char *data, ssize_t len,
                         const struct sockaddr_storage *ss, socklen_t sslen,
                         char *const argv[], long timeout) {
    static char reply[MAX_DGRAM];
    int in[2], out[2];
    ssize_t got = 0, n;
    pid_t pid;

    if (pipe(in) != 0 || pipe(out) != 0)
        _exit(1);
    pid = fork();
    if (pid == 0) {
        handler_fds(in[0], out[1]);
        alarm((unsigned)timeout);  /* alarms do not survive fork() */
        run_handler(argv);
    }
    close(in[0]);
    close(out[1]);
    if (pid < 0)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    if (len > 0 && write(in[1], data, (size_t)len) < 0) {
        /* the handler did not want the datagram: nothing to do */
    }
    close(in[1]);
    while (got < (ssize_t)sizeof reply &&
           (n = read(out[0], reply + got, sizeof reply - (size_t)got)) > 0)
        got += n;
    close(out[0]);
    if (got > 0)
        sendto(sock, reply, (size_t)got, 0, (const struct sockaddr *)ss, sslen);
    waitpid(pid, NULL, 0);
}

static void serve_udp(struct listener *l, char *const argv[], long timeout) {
    static char data[MAX_DGRAM];
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    ssize_t len;
    pid_t pid;

    len = recvfrom(l->fd, data, sizeof data, 0, (struct sockaddr *)&ss, &sslen);
    if (len < 0)
        return;
    peer_text(&ss, ip, sizeof ip, &port);
    if (children >= env_long("DECNET_MAX_CHILDREN", 64)) {
        log_refused("udp", ip, port, l->port, env_long("DECNET_MAX_CHILDREN", 64));
        return;
    }
    pid = counted_fork();
    if (pid == 0) {
        child_signals();
        close_listeners(l->fd);
        set_env("udp", ip, port, l->port);
        alarm((unsigned)timeout);
        udp_exchange(l->fd, data, len, &ss, sslen, argv, timeout);
        _exit(0);
    }
}

int main(int argc, char **argv) {
    struct pollfd fds[MAX_LISTENERS];
    struct sigaction sa;
    char *handler_argv[2];
    long timeout;

    if (argc < 3) {
        fprintf(stderr, "usage: decnet-svd HANDLER PORT/PROTO...\n");
        return 2;
    }
    handler_argv[0] = argv[1];
    handler_argv[1] = NULL;
    timeout = env_long("DECNET_CONN_TIMEOUT", 120);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;  /* no SA_RESTART: poll() returns, the loop goes on */
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_stop;
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 2; i < argc && nlisteners < MAX_LISTENERS; i++) {
        char *slash = strchr(argv[i], '/');
        char *end;
        long port = strtol(argv[i], &end, 10);
        int udp = slash && strcmp(slash + 1, "udp") == 0;
        if (end == argv[i] || (*end && *end != '/') || port < 1 || port > 65535 ||
            (slash && !udp && strcmp(slash + 1, "tcp") != 0)) {
            fprintf(stderr, "decnet-svd: ignoring bad port %s\n", argv[i]);
            continue;
        }
        int fd = open_listener((int)port, udp);
        if (fd < 0) {
            fprintf(stderr, "decnet-svd: cannot listen on %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        listeners[nlisteners].fd = fd;
        listeners[nlisteners].port = (int)port;
        listeners[nlisteners].udp = udp;
        fds[nlisteners].fd = fd;
        fds[nlisteners].events = POLLIN;
        nlisteners++;
        fprintf(stderr, "decnet-svd: listening on %ld/%s\n", port, udp ? "udp" : "tcp");
    }
    if (nlisteners == 0) {
        fprintf(stderr, "decnet-svd: no port to listen on\n");
        return 2;
    }
    while (!stopping) {
        if (poll(fds, (nfds_t)nlisteners, -1) < 0)
            continue;  /* EINTR: a child ended or we are asked to stop */
        for (int i = 0; i < nlisteners; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            if (listeners[i].udp)
                serve_udp(&listeners[i], handler_argv, timeout);
            else
                serve_tcp(&listeners[i], handler_argv, timeout);
        }
    }
    fprintf(stderr, "decnet-svd: stopping\n");  /* handlers end with their alarm or PID 1 */
    return 0;
}
