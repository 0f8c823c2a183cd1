/* err.c: names and messages for the codes of err.h. */
#include "common/err.h"

#include <errno.h>
#include <string.h>

const char *
err_name(int err)
{
    switch (err) {
    case 0: return "OK";
#define ERR_NAME(name, val, msg)                                                                   \
    case val: return #name;
        ERR_MAP(ERR_NAME)
#undef ERR_NAME
    }
    if (err < 0 && err > -4096) {
        const char *n = strerrorname_np(-err);
        return n ? n : "ERRNO";
    }
    return "UNKNOWN";
}

const char *
err_str(int err)
{
    switch (err) {
    case 0: return "success";
#define ERR_MSG(name, val, msg)                                                                    \
    case val: return msg;
        ERR_MAP(ERR_MSG)
#undef ERR_MSG
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
