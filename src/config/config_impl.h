/* config_impl.h — private interface of src/config/: the key schema
 * (config_schema.c), the YAML reader and setters (config_load.c) and the
 * printers (config_print.c). The short names below are pixl__cfg_ symbols. */
#ifndef PIXL_CONFIG_IMPL_H
#define PIXL_CONFIG_IMPL_H

#include <stddef.h>

#include "pixl_impl.h"

#define BIG 1e300 /* "no upper bound" of a number's range */

typedef enum {
    K_SECTION,
    K_INT,       /* int or int64_t field (size) */
    K_FLOAT,     /* double */
    K_BOOL,      /* int 0/1 */
    K_STRING,    /* char[size] */
    K_ENUM,      /* int index into choices */
    K_INT_LIST,  /* int or int64_t elements (elem), count at count_off or fixed length */
    K_FLOAT_LIST,/* double elements */
    K_WEIGHTS,   /* loss.class_weights: enum field + count + values */
    K_INT_NULL,  /* int, null = PIXL_CFG_INHERIT */
    K_TABLE      /* a typed options struct (pixl__opt_table): model.options */
} kind;

typedef struct key_def {
    const char *path;
    kind kind;
    const char *def;     /* default as YAML text */
    const char *doc;
    size_t off;          /* offset of the field */
    size_t size;         /* bytes of the field (int: 4/8, string: capacity, list: whole array) */
    size_t elem;         /* lists: bytes of one element */
    ptrdiff_t count_off; /* lists: offset of the int count, -1 = fixed length max_len */
    int min_len, max_len;
    double lo, hi;       /* inclusive range of numbers (list elements too) */
    const char *choices; /* enum: "a|b|c" */
    const pixl__opt_table *table; /* K_TABLE */
} key_def;

#define g_keys pixl__cfg_keys
#define n_keys_ pixl__cfg_n_keys
#define leaf_of pixl__cfg_leaf_of
#define parent_len pixl__cfg_parent_len
#define is_child pixl__cfg_is_child
#define find_key pixl__cfg_find_key
#define depth_of pixl__cfg_depth_of
#define key_hint pixl__cfg_key_hint
#define path_hint pixl__cfg_path_hint
#define fmt_range_num pixl__cfg_fmt_range_num
#define store_int pixl__cfg_store_int
#define load_int pixl__cfg_load_int
#define enum_index pixl__cfg_enum_index
#define enum_name pixl__choice_name /* core/opts.c */
#define enum_list pixl__cfg_enum_list
#define edit_distance pixl__edit_distance
#define close_enough pixl__close_enough

/* every section and key in print order (config_schema.c) */
extern const key_def g_keys[];
extern const int n_keys_;
#define N_KEYS n_keys_
#define PIXL__CFG_MAX_KEYS 128 /* capacity of per-key tables (line numbers) */

const char *leaf_of(const char *path);          /* "training.optimizer.lr" -> "lr" */
size_t parent_len(const char *path);            /* length of "training.optimizer" */
int is_child(const key_def *k, const char *sec, size_t n);
int find_key(const char *path);                 /* index in g_keys or -1 */
int depth_of(const char *path);
/* " (did you mean 'x'?)" or " (valid keys in SEC: a, b)" for name in section sec (length n) */
void key_hint(char *out, size_t len, const char *sec, size_t n, const char *name);
/* the same for a whole dotted path (overrides) */
void path_hint(char *out, size_t len, const char *path);
void fmt_range_num(char *buf, size_t len, double v, int integer);
void store_int(void *field, size_t size, int64_t v);  /* int or int64_t by size */
int64_t load_int(const void *field, size_t size);
int enum_index(const char *choices, const char *s, int *near); /* "a|b|c"; -1 + closest in *near */
void enum_list(const char *choices, char *out, size_t len);     /* "sgd, adam or adamw" */

#endif
