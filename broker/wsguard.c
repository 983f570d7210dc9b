/* wsguard.c — lws 4.1 reads plain sockets with recv() (lib/core-net/output.c). This recv
 * takes the place of libc's for the whole process, as an executable's symbols come first
 * in the dynamic linker's lookup; it makes the same system call and shows the bytes of
 * watched descriptors to wsscan. Descriptors not watched cost one bounds check. Over TLS the
 * bytes read are ciphertext, so the check needs TLS to end in front of the broker. */
#include "wsguard.h"
#include "wsscan.h"
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
    wsscan **scan; /* indexed by descriptor */
    size_t cap;
} G;

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n > 0 && fd >= 0 && (size_t)fd < G.cap && G.scan[fd] && !(flags & MSG_PEEK))
        wsscan_feed(G.scan[fd], buf, (size_t)n);
    return n;
}

int wsguard_watch(int fd)
{
    if (fd < 0)
        return -1;
    if ((size_t)fd >= G.cap) {
        size_t cap = G.cap ? G.cap : 1024;
        while (cap <= (size_t)fd)
            cap *= 2;
        wsscan **grown = realloc(G.scan, cap * sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = G.cap; i < cap; i++)
            grown[i] = NULL;
        G.scan = grown;
        G.cap = cap;
    }
    free(G.scan[fd]);
    G.scan[fd] = calloc(1, sizeof **G.scan);
    return G.scan[fd] ? 0 : -1;
}

void wsguard_forget(int fd)
{
    if (fd >= 0 && (size_t)fd < G.cap) {
        free(G.scan[fd]);
        G.scan[fd] = NULL;
    }
}

bool wsguard_unmasked(int fd)
{
    return fd >= 0 && (size_t)fd < G.cap && G.scan[fd] && G.scan[fd]->unmasked;
}

void wsguard_free(void)
{
    for (size_t i = 0; i < G.cap; i++)
        free(G.scan[i]);
    free(G.scan);
    G.scan = NULL;
    G.cap = 0;
}
