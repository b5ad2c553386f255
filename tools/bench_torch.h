/* bench_torch.h — the PyTorch side of `pixl bench ...`: each benchmark
 * command times the same work in PyTorch with a script in bench/ (same
 * shapes, same thread count) and prints both side by side. */
#ifndef PIXL_TOOLS_BENCH_TORCH_H
#define PIXL_TOOLS_BENCH_TORCH_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Append " 'v'" (shell single quotes; ' written as '\'') to the string cmd
 * of capacity cap. Returns 0, or -1 (cmd unchanged) when it does not fit. */
int pixl_tool_shell_arg(char *cmd, size_t cap, const char *v);

/* Run `/usr/bin/python3 SCRIPT ARGS` and parse its stdout as one JSON value.
 * SCRIPT is bench/<script>: the file named by the environment variable
 * `env` when set, else bench/<script> under the working directory, else
 * bench/ beside, above or two above the executable's directory. `args` is
 * appended as given (quote values with pixl_tool_shell_arg). Returns the
 * JSON (cJSON_Delete it), or NULL after printing on stdout why the table
 * will be pixl's only (no torch, no script, the script failed). */
cJSON *pixl_tool_run_torch(const char *script, const char *env, const char *args);

#endif
