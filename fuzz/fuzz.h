/* fuzz.h — pixl's fuzz harnesses (fuzz/fuzz_<name>.c, docs/reliability.md).
 * Each harness is a function pixl_fuzz_<name>(data, size) that hands the
 * bytes to one of pixl's readers of outside data and frees what it got; it
 * never aborts on bad input. Built with -DPIXL_FUZZ_MAIN (make fuzz) a
 * harness also defines libFuzzer's LLVMFuzzerTestOneInput; without it the
 * functions are linked into the test binary, which replays the seed corpus
 * and tests/fuzz_regressions/ (tests/test_fuzz.c). */
#ifndef PIXL_FUZZ_H
#define PIXL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* a folder of this process for the harnesses' files (created on first use,
 * removed at exit) */
const char *pixl_fuzz_dir(void);
/* "<pixl_fuzz_dir()>/<name>" in a static buffer (one of 8 in rotation) */
const char *pixl_fuzz_path(const char *name);
/* write n bytes to path (0, or -1 when it cannot) */
int pixl_fuzz_write(const char *path, const void *data, size_t n);
/* a NUL-terminated malloc'ed copy of the bytes */
char *pixl_fuzz_strndup(const uint8_t *data, size_t n);
/* make a folder (and its parents) under pixl_fuzz_dir(); the full path */
const char *pixl_fuzz_mkdir(const char *name);
/* write a small valid PNG (w x h, 1 or 3 channels, pixel (y, x) = (x + 2y) % 5) */
int pixl_fuzz_png(const char *path, int w, int h, int channels);

#define PIXL_FUZZ_HARNESSES(X)                                                                          \
    X(safetensors) X(config) X(image) X(label) X(dataset_list) X(bsds) X(check_case) X(label_store) X(via) \
    X(click_log) X(annotate) X(report) X(model)

#define PIXL_FUZZ_DECLARE(name) int pixl_fuzz_##name(const uint8_t *data, size_t size);
PIXL_FUZZ_HARNESSES(PIXL_FUZZ_DECLARE)

#ifdef PIXL_FUZZ_MAIN
#define PIXL_FUZZ_ENTRY(name)                                                                           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                       \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { pixl_fuzz_##name(data, size); return 0; }
#else
#define PIXL_FUZZ_ENTRY(name)
#endif

#endif
