/*
 * libgeokv.c: libgeokv.so is geokv_client linked whole (client/CMakeLists.txt), exporting the
 * geokv_* symbols only; this file adds what only the shared library has.
 */
#include "client/geokv.h"

const char *
geokv_version(void)
{
    return GEOKV_VERSION;
}
