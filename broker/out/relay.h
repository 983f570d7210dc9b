/* relay.h — a file answer (a recording) passed from the PBX to the client as it arrives,
 * never held whole: reading from the PBX pauses while the client's connection is backed up. */
#ifndef CR_RELAY_H
#define CR_RELAY_H
#include "adapter.h"
#include "http.h"
#include "http_client.h"

typedef struct relay_opts {
    long connect_timeout_ms; /* 0: 5000 */
    long idle_timeout_ms;    /* no byte from the PBX for this long: give up; 0: 30000 */
    const char *const
        *accept_types; /* NULL: any; else a 2xx whose Content-Type (without
                          parameters, case-insensitive; "audio/" + "*" for a family) is
                          none of these is not streamed: fail gets it (status
                          2xx, its content_type) */
} relay_opts;
/* Called when the relay did not answer r itself: the PBX answered other than a 2xx file of an
 * accepted type, or not at all (reply->status 0, timed_out). reply->body holds up to 64 KiB. */
typedef void (*relay_fail_cb)(void *ud, http_req *r, const adapter_reply *reply);
/* Sends rq (stream = true) and, on a 2xx, answers r with the PBX's status, Content-Type and
 * Content-Length (when given) and its body as it arrives: reading from the PBX pauses while the
 * client's connection is backed up, so memory per relay stays bounded (a few hundred KiB)
 * whatever the file's size. Redirects are followed (up to 5, credentials not sent to another
 * host). A client that goes away cancels the PBX request. Holds r until done. Returns 0, or -1
 * (nothing sent; caller answers). */
int relay_start(http_req *r, http_client *c, const adapter_http *rq, const relay_opts *o,
                relay_fail_cb fail, void *ud);
/* Relays in progress (for tests and metrics). */
size_t relay_active(void);

#endif
