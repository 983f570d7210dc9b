/* online.h — who is online, from the members of the presence set ("EXT\tINSTANCE" each, one
 * per instance where EXT has a registered tab). Pure. */
#ifndef CR_ONLINE_H
#define CR_ONLINE_H
#include <stddef.h>

/* Cuts each member at its tab, in place, and leaves in members[0..return) the distinct
 * extensions, sorted; members without a tab or with an empty extension are dropped. */
size_t online_extensions(char **members, size_t n);

#endif
