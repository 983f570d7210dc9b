/* wsguard.h — watches the bytes libwebsockets reads from websocket connections for client
 * frames that are not masked (see wsscan.h for why lws cannot be asked). */
#ifndef CR_WSGUARD_H
#define CR_WSGUARD_H
#include <stdbool.h>

/* From the upgrade on, the bytes read from fd are scanned; a client waits for the 101
 * before it sends a frame (RFC 6455 §4.1), so the scan starts on a frame boundary. */
int wsguard_watch(int fd);
void wsguard_forget(int fd);
/* An unmasked client frame was read from fd. */
bool wsguard_unmasked(int fd);
void wsguard_free(void);

#endif
