/* stdwebhooks.h — Standard Webhooks signatures (https://www.standardwebhooks.com/):
 * secret "whsec_" + base64(key); signed content = id "." timestamp "." body;
 * header webhook-signature = space-separated "v1," + base64(HMAC-SHA256(key, content)). */
#ifndef CR_STDWEBHOOKS_H
#define CR_STDWEBHOOKS_H
#include <stddef.h>
#include <stdint.h>

#define STDWH_TOLERANCE_S 300

enum stdwh_status {
    STDWH_OK = 0,
    STDWH_MISSING,       /* a header is absent */
    STDWH_BAD_SECRET,    /* the integration's secret is not whsec_ + base64 */
    STDWH_BAD_TIMESTAMP, /* not an integer */
    STDWH_STALE,         /* more than STDWH_TOLERANCE_S from now */
    STDWH_MISMATCH,      /* no v1 signature matches */
};

/* id, timestamp, signatures: header values (NULL when absent). */
enum stdwh_status stdwh_verify(const char *secret, const char *id, const char *timestamp,
                               const char *signatures, const char *body, size_t body_len,
                               int64_t now);
/* Writes "v1,<base64>" into out. Returns 0, or -1 on a bad secret or small buffer. */
int stdwh_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
               size_t body_len, char *out, size_t out_size);
const char *stdwh_status_text(enum stdwh_status s);

#endif
