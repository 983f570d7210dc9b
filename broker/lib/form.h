/* form.h — application/x-www-form-urlencoded bodies (WHATWG URL, "application/x-www-form-
 * urlencoded parser"), decoded once for every adapter that receives them. Pure. */
#ifndef CR_FORM_H
#define CR_FORM_H
#include <jansson.h>
#include <stddef.h>

/* Decodes body into a new object: each name maps to its value as a string, or, when the name
 * is repeated, to an array of its values in order. '+' is a space, %XX a byte; a name without
 * '=' has the value "". Empty pairs are skipped. A malformed escape, a decoded NUL or text that
 * is not UTF-8 refuses the whole body: NULL, with err saying why (err may be NULL). */
json_t *form_parse(const char *body, size_t len, char *err, size_t err_size);
/* One name or value: s[0..n) decoded into out (at least n bytes), '+' a space, %XX a byte.
 * Returns the decoded length, or -1 for a malformed escape or a decoded NUL. */
long form_unescape(const char *s, size_t n, char *out);
/* The value of one hex digit, or -1. */
int form_hex(char c);

#endif
