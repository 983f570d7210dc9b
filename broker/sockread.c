/* sockread.c — kept apart because <linux/tcp.h>, which has tcpi_bytes_received, clashes with
 * <netinet/tcp.h>, which libuv's header includes. */
#include "sockread.h"
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int sockread_consumed(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    int queued = 0;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0 || ioctl(fd, FIONREAD, &queued) != 0)
        return -1;
    *out = ti.tcpi_bytes_received - (uint64_t)queued;
    return 0;
}
