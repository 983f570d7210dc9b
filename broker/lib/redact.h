/* redact.h — keeping secrets out of log lines. Pure. */
#ifndef CR_REDACT_H
#define CR_REDACT_H

/* Replaces with "***", in place (the text never grows): the value of every ticket= and token=
 * argument (up to '&', a quote, whitespace or the end), the word after "Bearer ", and the
 * password of a URL's user info (scheme://user:PASSWORD@host). */
void redact_secrets(char *s);

#endif
