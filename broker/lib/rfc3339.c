/* rfc3339.c — RFC 3339 timestamps read strictly (no locale, no strptime). */
#include "rfc3339.h"
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int take_char(const char **p, const char *accepted)
{
    if (!**p || !strchr(accepted, **p))
        return -1;
    (*p)++;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Fraction digits after '.', as milliseconds (extra digits truncated). */
static int take_fraction(const char **p, int *ms)
{
    int n = 0, v = 0;
    *ms = 0;
    if (**p != '.')
        return 0;
    (*p)++;
    for (; isdigit((unsigned char)**p); (*p)++, n++)
        if (n < 3)
            v = v * 10 + (**p - '0');
    if (n == 0)
        return -1;
    for (int i = n; i < 3; i++)
        v *= 10;
    *ms = v;
    return 0;
}

/* Offset east of UTC in seconds: Z or +HH:MM / -HH:MM. */
static int take_offset(const char **p, int *secs)
{
    int h, m;
    if (take_char(p, "Zz") == 0) {
        *secs = 0;
        return 0;
    }
    char sign = **p;
    if (take_char(p, "+-") < 0 || take_digits(p, 2, &h) < 0 || take_char(p, ":") < 0 ||
        take_digits(p, 2, &m) < 0 || h > 23 || m > 59)
        return -1;
    *secs = (sign == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

int rfc3339_parse(const char *s, int64_t *unix_ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, ms, off;
    const char *p = s;
    if (take_digits(&p, 4, &y) < 0 || take_char(&p, "-") < 0 || take_digits(&p, 2, &mo) < 0 ||
        take_char(&p, "-") < 0 || take_digits(&p, 2, &d) < 0 || take_char(&p, "Tt") < 0 ||
        take_digits(&p, 2, &h) < 0 || take_char(&p, ":") < 0 || take_digits(&p, 2, &mi) < 0 ||
        take_char(&p, ":") < 0 || take_digits(&p, 2, &sec) < 0 || take_fraction(&p, &ms) < 0 ||
        take_offset(&p, &off) < 0 || *p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *unix_ms = ((int64_t)timegm(&tm) - off) * 1000 + ms;
    return 0;
}
