/* annotate.h — the parts of `pixl annotate` (cmd_annotate.c) that the unit
 * tests call without a browser: open the files, answer a request as the
 * HTTP server would (no socket needed), and start / stop the server on a
 * port. Tool-internal: not part of libpixl. */
#ifndef PIXL_TOOLS_ANNOTATE_H
#define PIXL_TOOLS_ANNOTATE_H

#include <stddef.h>

#define ANNOT_MAX_BODY 4096 /* bytes of a request body; larger ones get 413 */

typedef struct annot_app annot_app;

typedef struct annot_opts {
    const char *images;  /* folder of the images (required) */
    const char *queries; /* query set file (required here; the command handles its absence) */
    const char *labels;  /* the label store written at every key press */
    const char *classes; /* "camvid" (NULL too) or a classes file */
    const char *gt;      /* folder of ground-truth label PNGs, or NULL */
    const char *token;   /* every request must carry it; NULL: none */
    int round;           /* annotation round of the new labels; < 0: the query set's ("round", else 0) */
} annot_opts;

/* Read the query set, the images (sizes), the classes, the ground truth and
 * whatever an earlier run wrote (labels, skips, click logs), and put the
 * cursor on the first query that is neither labelled nor skipped. NULL
 * with pixl_last_error() naming the file and the problem; nothing on disk
 * is changed then. Holds a lock on LABELS.lock until annot_free(). */
annot_app *annot_open(const annot_opts *o);
void annot_free(annot_app *a);
int annot_n_queries(const annot_app *a);
int annot_cursor(const annot_app *a); /* index of the current query in visiting order; n_queries when done */
/* The port the Host header must name (set by annot_serve_start(); tests set it). */
void annot_set_port(annot_app *a, int port);

typedef struct annot_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* percent-decoded path, without the query string */
    const char *token;        /* X-Pixl-Token header, else the token= query argument; NULL: none */
    const char *host;         /* Host header; NULL: none */
    const char *content_type; /* Content-Type header; NULL: none */
    const char *body;         /* request body (need not end with 0) */
    size_t body_len;
    int body_too_large;       /* the body went over ANNOT_MAX_BODY (it was not kept) */
} annot_request;

typedef struct annot_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    char *body;               /* malloc'ed (annot_response_clear()) */
    size_t len;
    char *file;               /* an image to send instead of body: its resolved path (malloc'ed) */
} annot_response;

/* Answer one request: the page, an image under --images, or the JSON API.
 * Thread-safe (a mutex around the labels). */
void annot_handle(annot_app *a, const annot_request *rq, annot_response *rs);
void annot_response_clear(annot_response *rs);

/* Resolve `rel` (a decoded path relative to the folder whose real path is
 * `root_real`) into out: 200 when it is a PNG or JPEG file whose real path
 * stays under the folder, 403 when it leaves the folder (.., an absolute
 * path, a symbolic link pointing out) or is not an image, 404 when there is
 * no such file. */
int annot_resolve(const char *root_real, const char *rel, char *out, size_t cap);
/* Is `got` the token `want`? (time independent of where they differ) */
int annot_token_equal(const char *want, const char *got);

/* Serve on bind:port (port 0: any free one; *bound gets the port) from
 * background threads. bind: an IPv4 or IPv6 address; one that is not a
 * loopback address needs a token. */
int annot_serve_start(annot_app *a, const char *bind, int port, int *bound);
void annot_serve_stop(annot_app *a);

int cmd_annotate(int argc, char **argv);

#endif
