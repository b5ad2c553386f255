/* fuzz_annotate.c — what `pixl annotate` reads (tools/cmd_annotate.c,
 * annot_open and annot_handle): the query set, the classes file, the skips
 * file, an earlier label store, a click log, and the JSON body of an API
 * request. The first byte picks which one the rest of the input is; the
 * others are small valid files: images img/a.png (20 x 16) and img/b.png
 * (12 x 10), ground truth gt/a.png and gt/b.png, a query set asking three
 * pixels of a and two of b, CamVid's classes. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "annotate.h"
#include "fuzz.h"
#include "pixl_data.h"

static const char queries[] =
    "{\"format\": \"pixl-query-set\", \"version\": 1, \"round\": 1, \"images\": [\n"
    " {\"id\": \"a\", \"height\": 16, \"width\": 20, \"points\": [[2, 3], [0, 9], [5, 1]]},\n"
    " {\"id\": \"b\", \"file\": \"b.png\", \"points\": [[1, 1], [9, 11]]}]}\n";

static void fixture(void)
{
    static int done;
    if (done) return;
    done = 1;
    pixl_fuzz_mkdir("ann/img");
    pixl_fuzz_mkdir("ann/gt");
    pixl_fuzz_png(pixl_fuzz_path("ann/img/a.png"), 20, 16, 3);
    pixl_fuzz_png(pixl_fuzz_path("ann/img/b.png"), 12, 10, 3);
    pixl_fuzz_png(pixl_fuzz_path("ann/gt/a.png"), 20, 16, 1);
    pixl_fuzz_png(pixl_fuzz_path("ann/gt/b.png"), 12, 10, 1);
}

/* the files an earlier iteration may have left */
static void reset(void)
{
    unlink(pixl_fuzz_path("ann/labels.json"));
    unlink(pixl_fuzz_path("ann/labels.skipped.json"));
    unlink(pixl_fuzz_path("ann/classes.txt"));
    const char *cd = pixl_fuzz_path("ann/labels.clicks");
    DIR *d = opendir(cd);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", cd, e->d_name);
                unlink(p);
            }
        closedir(d);
        rmdir(cd);
    }
}

int pixl_fuzz_annotate(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fixture();
    reset();
    int what = data[0] & 7;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    const char *qpath = pixl_fuzz_path("ann/q.json");
    int bad = pixl_fuzz_write(qpath, what == 0 ? (const void *)rest : queries, what == 0 ? n : sizeof queries - 1);
    if (what == 1) bad |= pixl_fuzz_write(pixl_fuzz_path("ann/classes.txt"), rest, n);
    if (what == 2) bad |= pixl_fuzz_write(pixl_fuzz_path("ann/labels.skipped.json"), rest, n);
    if (what == 3) bad |= pixl_fuzz_write(pixl_fuzz_path("ann/labels.json"), rest, n);
    if (what == 4) {
        pixl_fuzz_mkdir("ann/labels.clicks");
        bad |= pixl_fuzz_write(pixl_fuzz_path("ann/labels.clicks/a.csv"), rest, n);
    }
    if (bad) return 0;
    char img[512], gt[512], labels[512], classes[512];
    snprintf(img, sizeof img, "%s", pixl_fuzz_path("ann/img"));
    snprintf(gt, sizeof gt, "%s", pixl_fuzz_path("ann/gt"));
    snprintf(labels, sizeof labels, "%s", pixl_fuzz_path("ann/labels.json"));
    snprintf(classes, sizeof classes, "%s", pixl_fuzz_path("ann/classes.txt"));
    annot_opts o = {img, qpath, labels, what == 1 ? classes : "camvid", gt, NULL, -1};
    annot_app *a = annot_open(&o);
    if (!a) return 0;
    if (what >= 5) {
        /* an API request with the input as its body */
        static const char *const api[6] = {"/api/label", "/api/skip", "/api/undo", "/api/back", "/api/forward",
                                           "/api/next-image"};
        annot_set_port(a, 8090);
        annot_request rq = {"POST", api[(data[0] >> 3) % 6], NULL, "127.0.0.1:8090", "application/json",
                            (const char *)rest, n > ANNOT_MAX_BODY ? ANNOT_MAX_BODY : n, 0};
        annot_response rs;
        annot_handle(a, &rq, &rs);
        annot_response_clear(&rs);
    }
    annot_free(a);
    return 0;
}

PIXL_FUZZ_ENTRY(annotate)
