/* tls.c — loads the certificate and key the way libwebsockets will (a PEM chain file, a PEM
 * key file) into a throwaway OpenSSL context, so that what lws would refuse is refused first
 * with a reason. */
#include "tls.h"
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* OpenSSL's reason for the last failure, or the system's when it was the file. */
static const char *why(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unreadable";
}

static int readable(const char *env, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "%s: cannot read %s: %s", env, path, strerror(errno));
    fclose(f);
    return 0;
}

static int load(SSL_CTX *ctx, const cr_config *c, char *err, size_t errlen)
{
    if (readable("CALLRELAY_TLS_CERT", c->tls_cert, err, errlen) < 0 ||
        readable("CALLRELAY_TLS_KEY", c->tls_key, err, errlen) < 0)
        return -1;
    /* the key first: a certificate loaded after a key that does not match drops the key,
     * and the check below then names the mismatch */
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1)
        return fail(err, errlen, "CALLRELAY_TLS_KEY: %s is not a PEM private key: %s", c->tls_key,
                    why());
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
        return fail(err, errlen, "CALLRELAY_TLS_CERT: %s is not a PEM certificate: %s", c->tls_cert,
                    why());
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(err, errlen, "CALLRELAY_TLS_KEY: %s does not match the certificate in %s",
                    c->tls_key, c->tls_cert);
    return 0;
}

int tls_check(const cr_config *c, char *err, size_t errlen)
{
    if (!c->tls_cert && !c->tls_key)
        return 0;
    if (!c->tls_cert || !c->tls_key)
        return fail(err, errlen, "%s is set without %s: TLS needs both",
                    c->tls_cert ? "CALLRELAY_TLS_CERT" : "CALLRELAY_TLS_KEY",
                    c->tls_cert ? "CALLRELAY_TLS_KEY" : "CALLRELAY_TLS_CERT");
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return fail(err, errlen, "cannot create a TLS context: %s", why());
    ERR_clear_error();
    int rc = load(ctx, c, err, errlen);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}
