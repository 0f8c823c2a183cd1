/* file_copy.c: placeholder until the checkpoint copier lands (answers ERR_UNKNOWN_RPC). */
#include "replica/file_copy.h"

void
file_copy_serve_list(const char *root, struct rpc_request *req)
{
    rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
}

void
file_copy_serve_read(const char *root, struct rpc_request *req)
{
    rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
}

int
file_copy_dir(struct rpc_client *c, const char *addr, const char *remote_dir,
              const char *local_dir, const struct file_copy_opts *opts)
{
    return ERR_UNKNOWN_RPC;
}
