/* fuzz_config.c — pixl_config_load_ex() (src/config/config_load.c): a YAML
 * training config and `--set KEY=VALUE` overrides. The input is the YAML
 * text up to a line "--set"; each later line is one override. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pixl_train.h"

#define MAX_SET 32

int pixl_fuzz_config(const uint8_t *data, size_t size)
{
    char *text = pixl_fuzz_strndup(data, size);
    if (!text) return 0;
    size_t yaml_len = size;
    const char *set[MAX_SET];
    int n_set = 0;
    char *mark = strstr(text, "\n--set\n");
    if (!strncmp(text, "--set\n", 6)) mark = text - 1;
    if (mark) {
        yaml_len = (size_t)(mark + 1 - text);
        for (char *s = mark + 7, *next; s && *s && n_set < MAX_SET; s = next) {
            next = strchr(s, '\n');
            if (next) *next++ = 0;
            set[n_set++] = s;
        }
    }
    const char *path = pixl_fuzz_path("config.yaml");
    if (!pixl_fuzz_write(path, data, yaml_len)) {
        pixl_train_config *cfg = malloc(sizeof *cfg);
        if (cfg && pixl_config_load_ex(path, cfg, n_set, set) == PIXL_OK) {
            char buf[256];
            pixl_config_get(cfg, "training.optimizer.lr", buf, sizeof buf);
        }
        free(cfg);
    }
    free(text);
    return 0;
}

PIXL_FUZZ_ENTRY(config)
