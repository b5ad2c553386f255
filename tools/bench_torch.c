/* bench_torch.c — locating and running the PyTorch reference scripts of
 * the benchmark commands (contract in bench_torch.h). */
#include "bench_torch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int pixl_tool_shell_arg(char *cmd, size_t cap, const char *v)
{
    size_t o = strlen(cmd), need = o + 4; /* ' ' + two quotes + NUL */
    for (const char *c = v; *c; c++) need += *c == '\'' ? 4 : 1;
    if (need > cap) return -1;
    cmd[o++] = ' ';
    cmd[o++] = '\'';
    for (; *v; v++) {
        if (*v == '\'') {
            memcpy(cmd + o, "'\\''", 4);
            o += 4;
        } else {
            cmd[o++] = *v;
        }
    }
    cmd[o++] = '\'';
    cmd[o] = 0;
    return 0;
}

static int find_script(const char *script, const char *env, char *out, size_t len)
{
    const char *e = env ? getenv(env) : NULL;
    if (e) return snprintf(out, len, "%s", e), access(out, R_OK) ? -1 : 0;
    snprintf(out, len, "bench/%s", script);
    if (!access(out, R_OK)) return 0;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    static const char *const rel[] = {"/../bench/", "/bench/", "/../../bench/"};
    for (int i = 0; i < 3; i++) {
        snprintf(out, len, "%s%s%s", exe, rel[i], script);
        if (!access(out, R_OK)) return 0;
    }
    return -1;
}

cJSON *pixl_tool_run_torch(const char *script, const char *env, const char *args)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        printf("PyTorch: not available (/usr/bin/python3 cannot import torch); pixl only\n");
        return NULL;
    }
    char path[PATH_MAX + 64];
    if (find_script(script, env, path, sizeof path)) {
        printf("PyTorch: bench/%s not found (set %s); pixl only\n", script, env ? env : "the script path");
        return NULL;
    }
    size_t cap = strlen(path) + strlen(args ? args : "") + 64;
    char *cmd = malloc(cap);
    if (!cmd) return NULL;
    snprintf(cmd, cap, "/usr/bin/python3");
    pixl_tool_shell_arg(cmd, cap, path);
    if (args) strcat(cmd, args);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) {
        printf("PyTorch: cannot run %s; pixl only\n", path);
        return NULL;
    }
    size_t bcap = 1 << 16, n = 0, k;
    char *buf = malloc(bcap);
    while (buf && (k = fread(buf + n, 1, bcap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == bcap) {
            char *nb = realloc(buf, bcap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int rc = pclose(p);
    if (!buf) {
        printf("PyTorch: out of memory reading %s's output; pixl only\n", path);
        return NULL;
    }
    buf[n] = 0;
    cJSON *j = rc == 0 ? cJSON_Parse(buf) : NULL;
    free(buf);
    if (!j) {
        if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc))
            printf("PyTorch: %s failed (exit status %d); pixl only\n", path, WEXITSTATUS(rc));
        else printf("PyTorch: %s failed or printed no JSON; pixl only\n", path);
    }
    return j;
}
