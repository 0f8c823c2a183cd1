#pragma once
/* server.h: geokv-proxy's loop: listens, parses RESP and runs the commands (proxy.h). */
#include "proxy/proxy.h"

/* The largest argument a request may carry (a bulk string over it closes the connection
 * with a protocol error); geokv's own limits on keys and values are smaller and answered
 * with an error that keeps the connection. */
#define GEOKV_PROXY_MAX_BULK (64u << 20)

struct proxy_opts {
    const char *host; /* listen address */
    int port;
    const char *meta_servers; /* "host:port,..." */
    const char *app;          /* the table served */
    const char *keys_config;  /* INI file with [security] keys, or NULL */
    int timeout_ms;           /* of each geokv call */
};

/* Serves until SIGTERM or SIGINT, then closes every connection (letting running commands
 * finish) and returns 0; 1 if the table cannot be opened or the port bound. */
int proxy_run(const struct proxy_opts *o);
