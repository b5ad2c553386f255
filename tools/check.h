/* check.h — the conformance runner's interface for op builders.
 *
 * `pixl check DIR` runs every *.safetensors case in DIR (format:
 * ../shared/golden/README.md): it reads `op`, `params` (JSON, the original
 * project's constructor arguments), `inputs` and `mode` ("train":
 * PIXL_MODE_TRAIN; "eval": PIXL_MODE_EVAL_GRAD; "infer": PIXL_MODE_EVAL,
 * the inference graph, for pixl's own forward-only paths), creates the inputs,
 * asks the builder registered for `op` to build the layer, loads every
 * parameter/buffer the builder created from the file by name, runs forward,
 * compares `output` (or `output.<i>`), runs backward with `grad_output`,
 * compares `grad.<name>` for inputs and parameters and `after.<name>` for
 * buffers, each against the case's own tolerance.
 *
 * A builder is registered by op name with PIXL_CHECK_OP("Conv2d", fn). It
 * creates its parameters with pixl_nn_*() or pixl_params_add() under the
 * file's names (use "" as the layer name for unprefixed "weight"/"bias"),
 * builds the graph from c->inputs and sets c->outputs / c->n_outputs.
 * On a parameter it cannot honour it returns non-zero with a message in err. */
#ifndef PIXL_CHECK_H
#define PIXL_CHECK_H

#include <cjson/cJSON.h>

#include "pixl.h"

#define CHECK_MAX_IO 8

typedef struct check_case {
    const char *path, *op;
    const cJSON *params;       /* the "params" object (never NULL) */
    const char *mode;          /* "train", "eval", "infer" or "" */
    pixl_st_file *file;
    int n_inputs;
    const char *input_names[CHECK_MAX_IO];
    pixl_tensor *inputs[CHECK_MAX_IO]; /* f32 (with grad when the file has grad.<name>) or i32 for integer inputs */
    int n_outputs;
    pixl_tensor *outputs[CHECK_MAX_IO];
    /* 1: integer output i has a data-dependent length and is padded with -1
     * (pixl_nms): only its entries before the first negative one are
     * compared, and their count must be the case's */
    int padded[CHECK_MAX_IO];
} check_case;

typedef int (*check_build_fn)(pixl_ctx *ctx, check_case *c, char *err, size_t errlen);
void check_register(const char *op, check_build_fn fn);
#define PIXL_CHECK_OP(opname, fn) \
    __attribute__((constructor)) static void check_reg_##fn(void) { check_register(opname, fn); }

/* parameter access with defaults; an int-or-list value fills both entries */
int check_int(const check_case *c, const char *key, int dflt);
double check_num(const check_case *c, const char *key, double dflt);
int check_bool(const check_case *c, const char *key, int dflt);
const char *check_str(const check_case *c, const char *key, const char *dflt);
/* int or [a, b] -> out[0], out[1]; returns 0, or -1 when the value is malformed */
int check_pair(const check_case *c, const char *key, int out[2], int dflt);
int check_has(const check_case *c, const char *key);
/* a JSON number as an int (truncated): 0, or -1 for NaN or a value outside int (whose conversion would be
 * undefined); *out untouched then */
int check_as_int(double d, int *out);
/* -1 with "OP: unsupported argument 'K'" in err when params has a key not in
 * the NULL-terminated list keys; 0 otherwise */
int check_only_keys(const check_case *c, const char *const *keys, char *err, size_t errlen);

/* The builder's usual ending: y becomes the case's single output (returns 0),
 * or, when y is NULL, err gets the ctx's (else the last) error (returns -1). */
int check_output(pixl_ctx *ctx, check_case *c, pixl_tensor *y, char *err, size_t errlen);

/* -1 with "params 'KEY': ..." in err when an integer parameter of params
 * (stride, dilation, groups, kernel_size, padding, ...) is not a whole number
 * in its range (docs/reliability.md: strides, dilations, kernels 1..65536,
 * paddings 0..65536, counts 1..2^24); 0 otherwise */
int check_params_ranges(const cJSON *params, char *err, size_t errlen);

/* Run one case file; prints one line. Returns 1 pass, 0 fail. */
int check_run_file(const char *path, int verbose);
/* Run every *.safetensors in dir (sorted); prints lines and "N passed, N failed". Returns failures. */
int check_run_dir(const char *dir, int verbose);

#endif
