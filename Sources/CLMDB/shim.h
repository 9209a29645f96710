#ifndef KIROKU_CLMDB_SHIM_H
#define KIROKU_CLMDB_SHIM_H

// The only place C is seen: Kiroku's Log module wraps these calls; nothing else imports them.
#include <lmdb.h>

#endif
