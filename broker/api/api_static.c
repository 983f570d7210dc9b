/* api_static.c — the files embedded at build time (tools/embed_files.sh): the browser module
 * with its types, and the demo CRM page when CALLRELAY_DEMO=1. */
#include "api.h"
#include "files.h"
#include "result.h"
#include <stdlib.h>
#include <string.h>

static const embedded_file *find_file(const char *path)
{
    for (const embedded_file *f = embedded_files; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

/* Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; "*" matches anything. */
static bool client_has(http_req *r, const embedded_file *f)
{
    const char *inm = http_header(r, "if-none-match");
    return inm && (strcmp(inm, "*") == 0 || strstr(inm, f->etag));
}

/* Cacheable for five minutes, then revalidated by its ETag; importable from any origin (a CRM
 * page elsewhere imports the module). */
static void serve(http_req *r, const char *path, const char *type)
{
    const embedded_file *f = find_file(path);
    if (!f) {
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "not built into this binary: %s", path);
        return;
    }
    http_reply_header(r, "cache-control:", "public, max-age=300");
    http_reply_header(r, "etag:", f->etag);
    http_reply_header(r, "access-control-allow-origin:", "*");
    if (client_has(r, f)) {
        http_reply_raw(r, 304, type, NULL, 0);
        return;
    }
    char *copy = malloc(f->len ? f->len : 1);
    if (!copy) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        return;
    }
    memcpy(copy, f->data, f->len);
    http_reply_raw(r, 200, type, copy, f->len);
}

void api_client_js(http_req *r)
{
    serve(r, "client/callrelay.js", "text/javascript; charset=utf-8");
}

void api_client_dts(http_req *r)
{
    serve(r, "client/callrelay.d.ts", "application/typescript; charset=utf-8");
}

static bool demo_on(http_req *r)
{
    if (http_config()->demo)
        return true;
    http_reply_error(r, 404, RC_NOT_FOUND, NULL,
                     "no such path: %s (the demo is off: CALLRELAY_DEMO=1)", r->path);
    return false;
}

void api_demo_page(http_req *r)
{
    if (demo_on(r))
        serve(r, "demo/index.html", "text/html; charset=utf-8");
}

void api_demo_asset(http_req *r)
{
    static const struct {
        const char *path, *file, *type;
    } assets[] = {
        {"/demo/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"},
        {"/demo/demo.css", "demo/demo.css", "text/css; charset=utf-8"},
    };
    if (!demo_on(r))
        return;
    for (size_t i = 0; i < sizeof assets / sizeof *assets; i++)
        if (strcmp(r->path, assets[i].path) == 0) {
            serve(r, assets[i].file, assets[i].type);
            return;
        }
    http_reply_error(r, 404, RC_NOT_FOUND, NULL, "no such path: %s", r->path);
}
