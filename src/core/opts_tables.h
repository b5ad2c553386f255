/* opts_tables.h — shorthands for writing pixl__opt_table fields (core/opts.c
 * reads them): one macro per field type, for the files that define tables
 * (core/opts_tables.c, models/model_opts.c, config/config_model_options.c). */
#ifndef PIXL_OPTS_TABLES_H
#define PIXL_OPTS_TABLES_H

#include <stddef.h>

#include "pixl_impl.h"

#define FSZ(T, f) sizeof(((T *)0)->f)
#define O_INT(T, k, f, l, h, d) {.key = k, .type = PIXL__OPT_INT, .off = offsetof(T, f), .size = FSZ(T, f), .lo = l, .hi = h, .doc = d}
#define O_FLT(T, k, f, l, h, d) {.key = k, .type = PIXL__OPT_FLOAT, .off = offsetof(T, f), .size = FSZ(T, f), .lo = l, .hi = h, .doc = d}
#define O_BOOL(T, k, f, d) {.key = k, .type = PIXL__OPT_BOOL, .off = offsetof(T, f), .size = FSZ(T, f), .doc = d}
#define O_STR(T, k, f, d) {.key = k, .type = PIXL__OPT_STRING, .off = offsetof(T, f), .size = FSZ(T, f), .doc = d}
#define O_ENUM(T, k, f, ch, d) {.key = k, .type = PIXL__OPT_ENUM, .off = offsetof(T, f), .size = FSZ(T, f), .choices = ch, .doc = d}
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

#endif
