/* test_annotate.c — `pixl annotate` without a browser: image paths that
 * must stay under --images (.., absolute paths, symbolic links out,
 * percent-encoded dots), the token and Host checks, body limits, the
 * label / skip / undo / back / forward / next-image transitions with the
 * files on disk after each, a restart resuming where the last run stopped,
 * bad input (queries outside the image, foreign or corrupt label files, bad
 * classes files) refused with nothing lost, concurrent requests, and the
 * real server on an ephemeral port spoken to over a socket. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "annotate.h"
#include "pixl_data.h"
#include "test.h"

/* "<tmpdir>/annotate/<name>" */
static const char *apath(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/annotate/%s", pixl_test_tmpdir(), name);
    return buf[k];
}

static void write_text(const char *path, const char *text)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

/* A fresh folder: img/a.png (20 x 16), img/b.png (12 x 10), img/c.jpg (8 x 8),
 * gt/a.png, gt/b.png, gt/c.png (class = x % 4, 11 = void at x 0), a file
 * outside img (secret.png), and q.json: a has 3 queries, b 2, c 1. */
static void make_fixture(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", apath(""));
    CHECK(system(cmd) == 0);
    mkdir(apath(""), 0700);
    mkdir(apath("img"), 0700);
    mkdir(apath("gt"), 0700);
    const char *names[3] = {"a", "b", "c"};
    int ws[3] = {20, 12, 8}, hs[3] = {16, 10, 8};
    for (int i = 0; i < 3; i++) {
        pixl_image *im = pixl_image_new(ws[i], hs[i], 3, 8);
        uint8_t *d = im->data;
        for (int p = 0; p < ws[i] * hs[i] * 3; p++) d[p] = (uint8_t)(p * 7 + i * 50);
        char f[64];
        snprintf(f, sizeof f, "img/%s.%s", names[i], i == 2 ? "jpg" : "png");
        CHECK_OK(i == 2 ? pixl_image_save_jpeg(im, apath(f), 90) : pixl_image_save_png(im, apath(f)));
        pixl_image_free(im);
        int32_t *lab = malloc(sizeof(int32_t) * (size_t)(ws[i] * hs[i]));
        for (int y = 0; y < hs[i]; y++)
            for (int x = 0; x < ws[i]; x++) lab[y * ws[i] + x] = x == 0 ? 11 : x % 4;
        snprintf(f, sizeof f, "gt/%s.png", names[i]);
        CHECK_OK(pixl_label_save_png(lab, ws[i], hs[i], NULL, 0, apath(f)));
        free(lab);
    }
    pixl_image *im = pixl_image_new(4, 4, 3, 8);
    CHECK_OK(pixl_image_save_png(im, apath("secret.png")));
    pixl_image_free(im);
    /* a's points in visiting order (x, then y): (5,1) (2,3) (0,9) */
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"round\": 2, \"images\": [\n"
                                "  {\"id\": \"a\", \"height\": 16, \"width\": 20, \"points\": [[2, 3], [0, 9], [5, 1]]},\n"
                                "  {\"id\": \"b\", \"points\": [[1, 1], [9, 11]]},\n"
                                "  {\"id\": \"c\", \"points\": [[4, 4]]}\n]}\n");
}

static annot_app *open_app(const char *token)
{
    annot_opts o = {apath("img"), apath("q.json"), apath("labels.json"), "camvid", apath("gt"), token, -1};
    annot_app *a = annot_open(&o);
    CHECK_MSG(a != NULL, "annot_open: %s", pixl_last_error());
    if (a) annot_set_port(a, 8090);
    return a;
}

/* one request; returns the status, the body in *body (malloc'ed) when asked */
static int req(annot_app *a, const char *method, const char *path, const char *json, char **body)
{
    annot_request rq = {method, path, NULL, "127.0.0.1:8090", json ? "application/json" : NULL, json, json ? strlen(json) : 0, 0};
    if (!strcmp(method, "POST") && !json) rq.content_type = "application/json";
    annot_response rs;
    annot_handle(a, &rq, &rs);
    int st = rs.status;
    if (body) *body = rs.body ? strdup(rs.body) : NULL;
    annot_response_clear(&rs);
    return st;
}

static int has(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

/* the label store on disk: class of (y, x) of image id, -1 when not labelled, -2 when no file */
static int disk_label(const char *id, int y, int x)
{
    pixl_label_store *s = pixl_label_store_load(apath("labels.json"));
    if (!s) return -2;
    pixl_label_point p;
    int r = pixl_label_store_get(s, id, y, x, &p) == 1 ? p.label : -1;
    pixl_label_store_free(s);
    return r;
}

static int label_at(annot_app *a, const char *key, const char *id, int y, int x)
{
    char b[256];
    snprintf(b, sizeof b, "{\"key\": \"%s\", \"image\": \"%s\", \"y\": %d, \"x\": %d}", key, id, y, x);
    return req(a, "POST", "/api/label", b, NULL);
}

static int skip_at(annot_app *a, const char *id, int y, int x)
{
    char b[256];
    snprintf(b, sizeof b, "{\"image\": \"%s\", \"y\": %d, \"x\": %d}", id, y, x);
    return req(a, "POST", "/api/skip", b, NULL);
}

PIXL_TEST(annotate_paths)
{
    make_fixture();
    char root[4096], out[4096];
    CHECK(realpath(apath("img"), root) != NULL);
    CHECK(annot_resolve(root, "a.png", out, sizeof out) == 200);
    CHECK(has(out, "/img/a.png"));
    CHECK(annot_resolve(root, "c.jpg", out, sizeof out) == 200);
    CHECK(annot_resolve(root, "../secret.png", out, sizeof out) == 403);
    CHECK(annot_resolve(root, "..", out, sizeof out) == 403);
    CHECK(annot_resolve(root, "x/../../secret.png", out, sizeof out) == 403);
    CHECK(annot_resolve(root, apath("secret.png"), out, sizeof out) == 403); /* absolute */
    CHECK(annot_resolve(root, "/etc/passwd", out, sizeof out) == 403);
    CHECK(annot_resolve(root, "", out, sizeof out) == 403);
    CHECK(annot_resolve(root, "missing.png", out, sizeof out) == 404);
    /* percent-encoded dots arrive decoded from the server; still encoded they are a file name, not a way out */
    CHECK(annot_resolve(root, "%2e%2e/secret.png", out, sizeof out) == 404);
    /* symbolic links: out of the folder refused, inside allowed */
    CHECK(symlink(apath("secret.png"), apath("img/out.png")) == 0);
    CHECK(annot_resolve(root, "out.png", out, sizeof out) == 403);
    CHECK(symlink(apath(""), apath("img/up")) == 0);
    CHECK(annot_resolve(root, "up/secret.png", out, sizeof out) == 403);
    CHECK(annot_resolve(root, "up/img/a.png", out, sizeof out) == 200); /* back inside: the real path counts */
    CHECK(symlink(apath("img/a.png"), apath("img/same.png")) == 0);
    CHECK(annot_resolve(root, "same.png", out, sizeof out) == 200);
    /* only images: a link named .png to another kind of file, a folder, a text file */
    write_text(apath("img/notes.txt"), "x");
    CHECK(annot_resolve(root, "notes.txt", out, sizeof out) == 403);
    CHECK(symlink(apath("img/notes.txt"), apath("img/notes.png")) == 0);
    CHECK(annot_resolve(root, "notes.png", out, sizeof out) == 403);
    mkdir(apath("img/dir.png"), 0700);
    CHECK(annot_resolve(root, "dir.png", out, sizeof out) == 404);

    /* through the request handler */
    annot_app *a = open_app(NULL);
    if (!a) return;
    CHECK(req(a, "GET", "/images/a.png", NULL, NULL) == 200);
    CHECK(req(a, "GET", "/images/../secret.png", NULL, NULL) == 403);
    CHECK(req(a, "GET", "/images//etc/passwd", NULL, NULL) == 403);
    CHECK(req(a, "GET", "/images/out.png", NULL, NULL) == 403);
    CHECK(req(a, "GET", "/images/nope.png", NULL, NULL) == 404);
    CHECK(req(a, "GET", "/q.json", NULL, NULL) == 404);
    CHECK(req(a, "GET", "/../q.json", NULL, NULL) == 404);
    annot_free(a);
}

PIXL_TEST(annotate_token_host_limits)
{
    make_fixture();
    CHECK(annot_token_equal("secret-token", "secret-token"));
    CHECK(!annot_token_equal("secret-token", "secret-tokeN"));
    CHECK(!annot_token_equal("secret-token", "secret-toke"));
    CHECK(!annot_token_equal("secret-token", "secret-token1"));
    CHECK(!annot_token_equal("secret-token", ""));
    CHECK(!annot_token_equal("secret-token", NULL));

    /* a token that cannot go into an address is refused */
    annot_opts bad = {apath("img"), apath("q.json"), apath("labels.json"), NULL, NULL, "short", -1};
    CHECK(annot_open(&bad) == NULL);
    CHECK(has(pixl_last_error(), "--token"));
    bad.token = "has space in it";
    CHECK(annot_open(&bad) == NULL);

    annot_app *a = open_app("s3cret-T0ken");
    if (!a) return;
    annot_request rq = {"GET", "/api/state", NULL, "127.0.0.1:8090", NULL, NULL, 0, 0};
    annot_response rs;
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 403);
    CHECK(has(rs.body, "no token"));
    annot_response_clear(&rs);
    rq.token = "s3cret-T0keN";
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 403);
    CHECK(has(rs.body, "wrong token"));
    annot_response_clear(&rs);
    rq.path = "/images/a.png"; /* images too */
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 403 && rs.file == NULL);
    annot_response_clear(&rs);
    rq.path = "/";
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 403);
    annot_response_clear(&rs);
    rq.token = "s3cret-T0ken";
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 200 && has(rs.body, "<canvas"));
    annot_response_clear(&rs);
    rq.path = "/api/state";
    annot_handle(a, &rq, &rs);
    CHECK(rs.status == 200 && has(rs.body, "\"n_queries\":6"));
    annot_response_clear(&rs);

    /* Host: the loopback names with our port only (DNS rebinding) */
    const char *good[] = {"127.0.0.1:8090", "localhost:8090", "LOCALHOST:8090", "[::1]:8090", "127.0.0.2:8090"};
    const char *evil[] = {"evil.example:8090", "127.0.0.1:8091", "localhost", "127.0.0.1.evil.example:8090", "[::1]x:8090", "10.0.0.1:8090"};
    for (int i = 0; i < 5; i++) {
        rq.host = good[i];
        annot_handle(a, &rq, &rs);
        CHECK_MSG(rs.status == 200, "Host %s: %d", good[i], rs.status);
        annot_response_clear(&rs);
    }
    for (int i = 0; i < 6; i++) {
        rq.host = evil[i];
        annot_handle(a, &rq, &rs);
        CHECK_MSG(rs.status == 403, "Host %s: %d", evil[i], rs.status);
        annot_response_clear(&rs);
    }
    rq.host = "127.0.0.1:8090";

    /* bodies: over the limit, wrong type, wrong method, unknown calls */
    char *big = malloc(ANNOT_MAX_BODY + 2);
    memset(big, ' ', ANNOT_MAX_BODY + 1);
    big[ANNOT_MAX_BODY + 1] = 0;
    annot_request post = {"POST", "/api/undo", "s3cret-T0ken", "127.0.0.1:8090", "application/json", big, ANNOT_MAX_BODY + 1, 0};
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 413);
    annot_response_clear(&rs);
    post.body_len = 10, post.body_too_large = 1; /* the server stopped keeping it */
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 413);
    annot_response_clear(&rs);
    post.body = "{}", post.body_len = 2, post.body_too_large = 0, post.content_type = "application/x-www-form-urlencoded";
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 415); /* a cross-site form cannot post JSON */
    annot_response_clear(&rs);
    post.content_type = "application/json; charset=utf-8";
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 409); /* nothing to undo yet */
    annot_response_clear(&rs);
    post.method = "GET";
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 405);
    annot_response_clear(&rs);
    post.method = "DELETE", post.path = "/";
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 405);
    annot_response_clear(&rs);
    post.method = "POST", post.path = "/api/nope";
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 404);
    annot_response_clear(&rs);
    post.path = "/api/label", post.body = "{not json", post.body_len = 9;
    annot_handle(a, &post, &rs);
    CHECK(rs.status == 400);
    annot_response_clear(&rs);
    free(big);
    annot_free(a);
}

PIXL_TEST(annotate_label_skip_undo_back)
{
    make_fixture();
    annot_app *a = open_app(NULL);
    if (!a) return;
    char *s = NULL;
    CHECK(annot_n_queries(a) == 6);
    CHECK(annot_cursor(a) == 0);
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    /* visiting order: sorted by x: a (5,1) first; keys r = Road, s = Sky, b = Building */
    CHECK(has(s, "\"point\":{\"image\":\"a\",\"y\":5,\"x\":1"));
    CHECK(has(s, "{\"name\":\"Road\",\"key\":\"r\""));
    CHECK(has(s, "{\"name\":\"Sky\",\"key\":\"s\""));
    CHECK(has(s, "\"accuracy\":{\"correct\":0,\"total\":0}"));
    free(s);
    CHECK(access(apath("labels.json"), F_OK) != 0); /* nothing written before the first answer */

    /* a point other than the current one: 409, nothing saved */
    CHECK(label_at(a, "r", "a", 2, 3) == 409);
    CHECK(access(apath("labels.json"), F_OK) != 0);
    /* a key not in the legend: 400 naming the keys */
    CHECK(req(a, "POST", "/api/label", "{\"key\": \"q\", \"image\": \"a\", \"y\": 5, \"x\": 1}", &s) == 400);
    CHECK(has(s, "'q' is not a class of the legend"));
    free(s);

    /* label (5,1) Road: on disk at once, with round 2, and the click log */
    CHECK(label_at(a, "r", "a", 5, 1) == 200);
    CHECK(disk_label("a", 5, 1) == 3);
    CHECK(annot_cursor(a) == 1);
    char *log = read_text(apath("labels.clicks/a.csv"));
    CHECK(has(log, "loc,label,elapsed_time,total_time\n(5, 1),road,"));
    free(log);
    pixl_label_store *st = pixl_label_store_load(apath("labels.json"));
    CHECK(st && pixl_label_store_points(st, 0)[0].round == 2);
    pixl_label_store_free(st);
    /* by class index too; ground truth: (5,1) is class 1 (Road was wrong), (2,3) class 3 = Road (right) */
    CHECK(req(a, "POST", "/api/label", "{\"class\": 3, \"image\": \"a\", \"y\": 2, \"x\": 3}", &s) == 200);
    CHECK(has(s, "\"accuracy\":{\"correct\":1,\"total\":2}"));
    free(s);
    CHECK(disk_label("a", 2, 3) == 3);
    /* skip (0,9): the skips file */
    CHECK(skip_at(a, "a", 0, 9) == 200);
    char *sk = read_text(apath("labels.skipped.json"));
    CHECK(has(sk, "\"id\":\"a\",\"points\":[[0,9]]"));
    free(sk);
    CHECK(annot_cursor(a) == 3); /* b (1,1) */
    /* undo: the skip goes, the cursor goes back to it */
    CHECK(req(a, "POST", "/api/undo", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 2);
    sk = read_text(apath("labels.skipped.json"));
    CHECK(!has(sk, "[0,9]"));
    free(sk);
    /* undo again: the Road label of (2,3) goes */
    CHECK(req(a, "POST", "/api/undo", NULL, NULL) == 200);
    CHECK(annot_cursor(a) == 1);
    CHECK(disk_label("a", 2, 3) == -1);
    CHECK(disk_label("a", 5, 1) == 3);
    log = read_text(apath("labels.clicks/a.csv"));
    CHECK(has(log, "(5, 1),road,") && !has(log, "(2, 3)"));
    free(log);
    /* label (2,3) Pavement (a), then back to it and relabel Car (c); undo restores Pavement */
    CHECK(label_at(a, "a", "a", 2, 3) == 200);
    CHECK(annot_cursor(a) == 2);
    CHECK(req(a, "POST", "/api/back", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 1);
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"point\":{\"image\":\"a\",\"y\":2,\"x\":3,\"status\":1,\"class\":4}"));
    free(s);
    CHECK(label_at(a, "c", "a", 2, 3) == 200);
    CHECK(disk_label("a", 2, 3) == 8);
    CHECK(annot_cursor(a) == 2); /* the next unanswered */
    CHECK(req(a, "POST", "/api/undo", "{}", NULL) == 200);
    CHECK(disk_label("a", 2, 3) == 4);
    CHECK(annot_cursor(a) == 1);
    /* forward / back at the ends */
    CHECK(req(a, "POST", "/api/back", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 0);
    CHECK(req(a, "POST", "/api/back", "{}", &s) == 200);
    CHECK(annot_cursor(a) == 0 && has(s, "first query"));
    free(s);
    CHECK(req(a, "POST", "/api/forward", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 1);
    /* next image: b at its first unanswered query, then c, then round to a's (0,9) */
    CHECK(req(a, "POST", "/api/next-image", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 3);
    CHECK(req(a, "POST", "/api/next-image", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 5);
    CHECK(req(a, "POST", "/api/next-image", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 2);
    /* answer the rest: after the last of c the cursor goes round to nothing left */
    CHECK(skip_at(a, "a", 0, 9) == 200);
    CHECK(label_at(a, "T", "b", 1, 1) == 200); /* upper case: the same key */
    CHECK(label_at(a, "r", "b", 9, 11) == 200);
    CHECK(label_at(a, "s", "c", 4, 4) == 200);
    CHECK(annot_cursor(a) == 6);
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"done\":true") && has(s, "\"point\":null") && has(s, "\"todo\":0,\"labelled\":5,\"skipped\":1"));
    free(s);
    CHECK(label_at(a, "s", "c", 4, 4) == 409); /* nothing left to label */
    CHECK(skip_at(a, "c", 4, 4) == 409);
    annot_free(a);

    /* what is on disk reads as a label store for training, and the click logs load */
    st = pixl_label_store_load(apath("labels.json"));
    CHECK(st && pixl_label_store_total(st) == 5);
    pixl_label_store_free(st);
    pixl_click *rows = NULL;
    int n = 0;
    static const char *const camvid[11] = {"Sky", "Building", "Pole", "Road", "Pavement", "Tree",
                                           "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist"};
    CHECK_OK(pixl_click_log_load(apath("labels.clicks/b.csv"), 11, camvid, &rows, &n));
    CHECK(n == 2 && rows && rows[0].y == 1 && rows[0].x == 1 && rows[0].label == 5 && rows[1].label == 3);
    free(rows);
}

PIXL_TEST(annotate_resume)
{
    make_fixture();
    annot_app *a = open_app(NULL);
    if (!a) return;
    CHECK(label_at(a, "r", "a", 5, 1) == 200);
    CHECK(skip_at(a, "a", 2, 3) == 200);
    CHECK(label_at(a, "b", "a", 0, 9) == 200);
    CHECK(annot_cursor(a) == 3);
    char *before = read_text(apath("labels.json"));
    annot_free(a); /* as after kill -9: everything is on disk already */

    a = open_app(NULL);
    if (!a) return;
    CHECK(annot_cursor(a) == 3); /* b (1,1): the first neither labelled nor skipped */
    char *s = NULL;
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"todo\":3,\"labelled\":2,\"skipped\":1"));
    CHECK(has(s, "\"point\":{\"image\":\"b\",\"y\":1,\"x\":1"));
    CHECK(!has(s, "\"seconds_per_click\":null")); /* the click logs' times are back */
    free(s);
    char *after = read_text(apath("labels.json"));
    CHECK(before && after && !strcmp(before, after)); /* opening writes nothing */
    free(after);
    /* undo after a restart: the answers in reverse visiting order */
    CHECK(req(a, "POST", "/api/undo", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 2);
    CHECK(disk_label("a", 0, 9) == -1);
    CHECK(req(a, "POST", "/api/undo", "{}", NULL) == 200);
    CHECK(annot_cursor(a) == 1);
    char *sk = read_text(apath("labels.skipped.json"));
    CHECK(!has(sk, "[2,3]"));
    free(sk);
    annot_free(a);

    /* a point labelled and skipped on disk (a crash between the two writes) counts as labelled */
    write_text(apath("labels.skipped.json"), "{\"format\": \"pixl-annotate-skips\", \"version\": 1, \"images\": "
                                             "[{\"id\": \"a\", \"points\": [[5, 1], [0, 9], [99, 99]]}, {\"id\": \"zz\", \"points\": []}]}");
    a = open_app(NULL);
    if (!a) return;
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"todo\":4,\"labelled\":1,\"skipped\":1"));
    CHECK(annot_cursor(a) == 1);
    free(s);
    annot_free(a);

    /* every query answered: the cursor is past the end, the page shows the last image */
    write_text(apath("labels.skipped.json"), "{\"format\": \"pixl-annotate-skips\", \"version\": 1, \"images\": "
                                             "[{\"id\": \"a\", \"points\": [[2, 3], [0, 9]]}, {\"id\": \"b\", \"points\": [[1, 1], [9, 11]]},"
                                             " {\"id\": \"c\", \"points\": [[4, 4]]}]}");
    a = open_app(NULL);
    if (!a) return;
    CHECK(annot_cursor(a) == 6);
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"done\":true") && has(s, "\"id\":\"c\""));
    free(s);
    annot_free(a);
    free(before);
}

PIXL_TEST(annotate_bad_input)
{
    make_fixture();
    char img[1024], q[1024], labels[1024], qstore[1024], classes[1024];
    snprintf(img, sizeof img, "%s", apath("img"));
    snprintf(q, sizeof q, "%s", apath("q.json"));
    snprintf(labels, sizeof labels, "%s", apath("labels.json"));
    snprintf(qstore, sizeof qstore, "%s", apath("q_store.json"));
    snprintf(classes, sizeof classes, "%s", apath("classes.txt"));
    annot_opts o = {img, q, labels, NULL, NULL, NULL, -1};
    /* a query outside its image */
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"b\", \"points\": [[10, 3]]}]}");
    CHECK(annot_open(&o) == NULL);
    CHECK(has(pixl_last_error(), "'b'.points[0]: pixel (y 10, x 3) is outside the image (height 10, width 12)"));
    /* twice the same pixel, a size that is not the file's, an image that is not there, an id with a '/' */
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"b\", \"points\": [[1, 3], [1, 3]]}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "asked twice"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"b\", \"height\": 11, \"width\": 12, \"points\": []}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "is 11 x 12 (height x width) in the query set"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"zz\", \"points\": []}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "no image 'zz.png'"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"../secret\", \"points\": []}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "images[0].id"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"s\", \"file\": \"../secret.png\", \"points\": []}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "not a PNG or JPEG file inside --images"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"b\", \"points\": [[1, -3]]}]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "expected [y, x]"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 1, \"images\": [{\"id\": \"b\", \"points\": [[1, 3]]}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "q.json':1: not valid JSON"));
    write_text(apath("q.json"), "{\"format\": \"pixl-query-set\", \"version\": 3, \"images\": []}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "version 3 is newer"));
    write_text(apath("q.json"), "{\"format\": \"something\", \"images\": []}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "\"format\" is 'something'"));

    /* a label store as the query set: its points are asked, its round is the labels' round */
    pixl_label_store *qs = pixl_label_store_new(11, NULL);
    pixl_label_store_add_image(qs, "b", 10, 12);
    pixl_label_store_add(qs, "b", 3, 4, 0, 5);
    CHECK_OK(pixl_label_store_save(qs, apath("q_store.json")));
    pixl_label_store_free(qs);
    o.queries = qstore;
    annot_app *a = annot_open(&o);
    CHECK_MSG(a != NULL, "%s", pixl_last_error());
    if (a) {
        annot_set_port(a, 8090);
        CHECK(annot_n_queries(a) == 1);
        CHECK(label_at(a, "p", "b", 3, 4) == 200);
        pixl_label_store *s = pixl_label_store_load(apath("labels.json"));
        CHECK(s && pixl_label_store_points(s, pixl_label_store_find(s, "b"))[0].round == 5);
        pixl_label_store_free(s);
        annot_free(a);
    }

    /* label files that do not fit are refused and left as they are */
    make_fixture();
    o.queries = q;
    pixl_label_store *other = pixl_label_store_new(11, NULL);
    pixl_label_store_add_image(other, "0001TP_006690", 360, 480);
    pixl_label_store_add(other, "0001TP_006690", 1, 2, 3, 0);
    CHECK_OK(pixl_label_store_save(other, apath("labels.json")));
    pixl_label_store_free(other);
    char *kept = read_text(apath("labels.json"));
    CHECK(annot_open(&o) == NULL);
    CHECK(has(pixl_last_error(), "image '0001TP_006690', which the query set"));
    char *now = read_text(apath("labels.json"));
    CHECK(kept && now && !strcmp(kept, now));
    free(now);
    free(kept);
    write_text(apath("labels.json"), "{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 11, \"images\": [{\"id\": \"a\", \"hei");
    CHECK(annot_open(&o) == NULL);
    CHECK(has(pixl_last_error(), "truncated") && has(pixl_last_error(), "left as it is"));
    kept = read_text(apath("labels.json"));
    CHECK(has(kept, "\"hei") && !has(kept, "height"));
    free(kept);
    write_text(apath("labels.json"), "{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 3, \"images\": []}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "has 3 classes, the legend (--classes) 11"));
    write_text(apath("labels.json"), "{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 11, \"class_names\": "
                                     "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"], \"images\": []}");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "class 0 is 'a' there, 'Sky' in the legend"));
    unlink(apath("labels.json"));
    write_text(apath("labels.skipped.json"), "{\"format\": \"pixl-annotate-skips\", \"images\": [");
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "skips file"));
    unlink(apath("labels.skipped.json"));

    /* classes files: keys chosen from the names, given, or refused */
    write_text(apath("classes.txt"), "# name = key\nGrass\nGravel\nsky = K #102030\n\nglass\n");
    o.classes = classes;
    a = annot_open(&o);
    CHECK_MSG(a != NULL, "%s", pixl_last_error());
    if (a) {
        char *s = NULL;
        annot_set_port(a, 8090);
        CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
        CHECK(has(s, "{\"name\":\"Grass\",\"key\":\"g\",\"colour\":\"#000000\"}"));
        CHECK(has(s, "{\"name\":\"Gravel\",\"key\":\"r\""));
        CHECK(has(s, "{\"name\":\"sky\",\"key\":\"k\",\"colour\":\"#102030\"}"));
        CHECK(has(s, "{\"name\":\"glass\",\"key\":\"l\""));
        free(s);
        annot_free(a);
    }
    const char *bad_classes[][2] = {{"Road = r\nRail = r\n", "key 'r' of class 'Rail' is taken"},
                                    {"Road = rr\n", "expected one letter"},
                                    {"Road\nroad\n", "listed twice"},
                                    {"Road = r #12345\n", "expected #RRGGBB"},
                                    {"Road = r #1 2345\n", "expected #RRGGBB"},
                                    {"# nothing\n", "no class"}};
    for (int i = 0; i < 6; i++) {
        write_text(apath("classes.txt"), bad_classes[i][0]);
        CHECK(annot_open(&o) == NULL);
        CHECK_MSG(has(pixl_last_error(), bad_classes[i][1]), "%s: %s", bad_classes[i][1], pixl_last_error());
        CHECK(has(pixl_last_error(), "classes.txt'"));
    }
    o.classes = NULL;

    /* two servers on one label file: the second is refused */
    annot_app *one = annot_open(&o);
    CHECK(one != NULL);
    CHECK(annot_open(&o) == NULL && has(pixl_last_error(), "another pixl annotate"));
    annot_free(one);
    one = annot_open(&o);
    CHECK(one != NULL);
    annot_free(one);
}

/* a save that fails (the folder of the labels is gone): the answer is taken back, the page says so,
 * and once the folder is back the same key works */
PIXL_TEST(annotate_save_failure)
{
    make_fixture();
    mkdir(apath("out"), 0700);
    char img[1024], q[1024], labels[1024], classes[1024];
    snprintf(img, sizeof img, "%s", apath("img"));
    snprintf(q, sizeof q, "%s", apath("q.json"));
    snprintf(labels, sizeof labels, "%s", apath("out/labels.json"));
    snprintf(classes, sizeof classes, "%s", apath("pixelpick.txt"));
    /* PixelPick's own keys, from a classes file */
    write_text(classes, "# PixelPick's legend\nSky = k\nBuilding = b\nPole = p\nRoad = r\nPavement = v\nTree = t\n"
                        "SignSymbol = s\nFence = f\nCar = c\nPedestrian = d\nBicyclist = i\n");
    annot_opts o = {img, q, labels, classes, NULL, NULL, -1};
    annot_app *a = annot_open(&o);
    CHECK_MSG(a != NULL, "%s", pixl_last_error());
    if (!a) return;
    annot_set_port(a, 8090);
    CHECK(label_at(a, "k", "a", 5, 1) == 200);
    CHECK(rename(apath("out"), apath("out_gone")) == 0);
    char *s = NULL;
    CHECK(label_at(a, "s", "a", 2, 3) == 500);
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "NOT saved") && has(s, "\"error\":true") && has(s, "\"todo\":5,\"labelled\":1"));
    free(s);
    CHECK(annot_cursor(a) == 1);
    CHECK(skip_at(a, "a", 2, 3) == 500);
    CHECK(req(a, "POST", "/api/undo", "{}", NULL) == 500); /* the undo of the first label cannot be saved either */
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    CHECK(has(s, "\"todo\":5,\"labelled\":1,\"skipped\":0") && has(s, "\"can_undo\":true"));
    free(s);
    CHECK(rename(apath("out_gone"), apath("out")) == 0);
    CHECK(label_at(a, "s", "a", 2, 3) == 200);
    annot_free(a);
    pixl_label_store *st = pixl_label_store_load(labels);
    pixl_label_point p;
    CHECK(st && pixl_label_store_total(st) == 2);
    CHECK(st && pixl_label_store_get(st, "a", 5, 1, &p) == 1 && p.label == 0);
    CHECK(st && pixl_label_store_get(st, "a", 2, 3, &p) == 1 && p.label == 6);
    pixl_label_store_free(st);
}

static void *hammer(void *arg)
{
    annot_app *a = arg;
    for (int i = 0; i < 200; i++) {
        char *s = NULL;
        req(a, "GET", "/api/state", NULL, &s);
        /* label whatever the state says is current (often someone was faster: 409) */
        const char *p = s ? strstr(s, "\"point\":{\"image\":\"") : NULL;
        if (p) {
            char id[8] = {0};
            int y = -1, x = -1;
            if (sscanf(p, "\"point\":{\"image\":\"%7[^\"]\",\"y\":%d,\"x\":%d", id, &y, &x) == 3) {
                if (i % 3 == 2) req(a, "POST", "/api/undo", "{}", NULL);
                else if (i % 5 == 4) req(a, "POST", "/api/back", "{}", NULL);
                else label_at(a, i % 2 ? "r" : "s", id, y, x);
            }
        }
        free(s);
    }
    return NULL;
}

PIXL_TEST(annotate_concurrent)
{
    make_fixture();
    annot_app *a = open_app(NULL);
    if (!a) return;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, a);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    /* memory and disk agree */
    char *s = NULL;
    CHECK(req(a, "GET", "/api/state", NULL, &s) == 200);
    int labelled = -1;
    const char *p = strstr(s ? s : "", "\"labelled\":");
    if (p) labelled = atoi(p + 11);
    free(s);
    annot_free(a);
    pixl_label_store *st = pixl_label_store_load(apath("labels.json"));
    CHECK(st != NULL);
    CHECK_MSG(st && pixl_label_store_total(st) == labelled, "disk %lld, memory %d", st ? (long long)pixl_label_store_total(st) : -1LL,
              labelled);
    pixl_label_store_free(st);
}

/* a raw HTTP request to 127.0.0.1:port; returns the status, *reply the whole reply */
static int http(int port, const char *request, char **reply)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t n = strlen(request), off = 0;
    while (off < n) {
        ssize_t w = send(fd, request + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    size_t cap = 1 << 16, got = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        ssize_t r = recv(fd, b + got, cap - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == cap) break;
    }
    b[got] = 0;
    close(fd);
    int status = -1;
    sscanf(b, "HTTP/1.%*d %d", &status);
    if (reply) *reply = b;
    else free(b);
    return status;
}

PIXL_TEST(annotate_server_socket)
{
    make_fixture();
    CHECK(symlink(apath("secret.png"), apath("img/out.png")) == 0);
    annot_app *a = open_app(NULL);
    if (!a) return;
    int port = 0;
    CHECK(annot_serve_start(a, "0.0.0.0", 0, &port) != 0); /* not a loopback: needs a token */
    CHECK(has(pixl_last_error(), "--token"));
    CHECK_OK(annot_serve_start(a, "127.0.0.1", 0, &port));
    CHECK(port > 0);
    char req_buf[1024], *r = NULL;
#define GET(path) (snprintf(req_buf, sizeof req_buf, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port), req_buf)
    CHECK(http(port, GET("/"), &r) == 200);
    CHECK(has(r, "Content-Security-Policy") && has(r, "<canvas"));
    free(r);
    CHECK(http(port, GET("/api/state"), &r) == 200);
    CHECK(has(r, "\"n_queries\":6") && has(r, "Cache-Control: no-store"));
    free(r);
    CHECK(http(port, GET("/images/a.png"), &r) == 200);
    CHECK(has(r, "Content-Type: image/png") && has(r, "\x89PNG"));
    free(r);
    CHECK(http(port, GET("/images/../secret.png"), NULL) == 403);
    CHECK(http(port, GET("/images/%2e%2e/secret.png"), NULL) == 403);
    CHECK(http(port, GET("/images/%2E%2E%2Fsecret.png"), NULL) == 403);
    CHECK(http(port, GET("/images/..%2f..%2fetc%2fpasswd"), NULL) == 403);
    CHECK(http(port, GET("/images/%2fetc%2fpasswd"), NULL) == 403);
    CHECK(http(port, GET("/images/out.png"), NULL) == 403);
    CHECK(http(port, GET("/images/missing.png"), NULL) == 404);
    snprintf(req_buf, sizeof req_buf, "GET /api/state HTTP/1.1\r\nHost: rebind.example:%d\r\nConnection: close\r\n\r\n", port);
    CHECK(http(port, req_buf, NULL) == 403);
    /* bodies: announced too large (refused before it is read), sent too large in chunks, the right size */
    snprintf(req_buf, sizeof req_buf,
             "POST /api/undo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
             "Connection: close\r\n\r\n{}",
             port);
    CHECK(http(port, req_buf, NULL) == 413);
    char *big = malloc(3 * ANNOT_MAX_BODY);
    int n = snprintf(big, 3 * ANNOT_MAX_BODY,
                     "POST /api/undo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n",
                     port);
    for (int c = 0; c < 3; c++) {
        n += sprintf(big + n, "%x\r\n", 2000);
        memset(big + n, ' ', 2000);
        n += 2000;
        n += sprintf(big + n, "\r\n");
    }
    sprintf(big + n, "0\r\n\r\n");
    CHECK(http(port, big, NULL) == 413);
    free(big);
    const char *body = "{\"key\": \"r\", \"image\": \"a\", \"y\": 5, \"x\": 1}";
    snprintf(req_buf, sizeof req_buf,
             "POST /api/label HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             port, strlen(body), body);
    CHECK(http(port, req_buf, &r) == 200);
    CHECK(has(r, "\"labelled\":1"));
    free(r);
    CHECK(disk_label("a", 5, 1) == 3);
    annot_free(a);

    /* with a token: refused without it, in a header or in the address */
    make_fixture();
    a = open_app("tok-12345678");
    if (!a) return;
    CHECK_OK(annot_serve_start(a, "127.0.0.1", 0, &port));
    CHECK(http(port, GET("/api/state"), NULL) == 403);
    CHECK(http(port, GET("/api/state?token=tok-1234567"), NULL) == 403);
    CHECK(http(port, GET("/api/state?token=tok-12345678"), NULL) == 200);
    CHECK(http(port, GET("/images/a.png?token=tok-12345678"), NULL) == 200);
    snprintf(req_buf, sizeof req_buf, "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Pixl-Token: tok-12345678\r\nConnection: close\r\n\r\n",
             port);
    CHECK(http(port, req_buf, NULL) == 200);
#undef GET
    annot_free(a);
}
