/* test_label_store.c — PixelPick's label store: the add / remove / undo
 * rules, merging rounds, save -> load round trips, every kind of corrupt
 * file (and truncated or byte-flipped ones) giving an error that names the
 * file, a store that survives kill -9 in the middle of writes, VIA 2 and
 * VIA 3 imports, click logs, sparse maps on datasets, and augmentation and
 * the loader keeping each labelled pixel on its class, never adding one. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "pixl_train.h"

/* "<tmpdir>/name" */
static const char *tpath(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", pixl_test_tmpdir(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    unlink(path); /* a new file: truncating one may wait for the disk */
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static char *read_all(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* same classes, names, images (in order, with sizes) and points (in order) */
static int store_equal(const pixl_label_store *a, const pixl_label_store *b)
{
    int K = pixl_label_store_n_classes(a);
    if (K != pixl_label_store_n_classes(b) || pixl_label_store_n_images(a) != pixl_label_store_n_images(b) ||
        pixl_label_store_total(a) != pixl_label_store_total(b))
        return 0;
    for (int k = 0; k < K; k++) {
        const char *x = pixl_label_store_class_name(a, k), *y = pixl_label_store_class_name(b, k);
        if ((x == NULL) != (y == NULL) || (x && strcmp(x, y))) return 0;
    }
    for (int i = 0; i < pixl_label_store_n_images(a); i++) {
        int ha, wa, na, hb, wb, nb;
        const char *ia = pixl_label_store_image(a, i, &ha, &wa, &na), *ib = pixl_label_store_image(b, i, &hb, &wb, &nb);
        if (strcmp(ia, ib) || ha != hb || wa != wb || na != nb) return 0;
        if (na && memcmp(pixl_label_store_points(a, i), pixl_label_store_points(b, i), sizeof(pixl_label_point) * (size_t)na))
            return 0;
    }
    return 1;
}

static int has(const char *s) { return strstr(pixl_last_error(), s) != NULL; }

/* text with its first `from` replaced by `to`, into out (0 when `from` is not there) */
static int replace_once(const char *text, const char *from, const char *to, char *out, size_t n)
{
    const char *at = strstr(text, from);
    if (!at) return 0;
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return 1;
}

/* ------------------------------------------------------------ rules */

PIXL_TEST(label_store_add_undo_remove_rules)
{
    const char *names[3] = {"sky", "road", "car"};
    pixl_label_store *s = pixl_label_store_new(3, names);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(pixl_label_store_new(0, NULL) == NULL && has("0 classes"));
    CHECK(pixl_label_store_new(256, NULL) == NULL);
    CHECK(pixl_label_store_add_image(s, "a", 4, 5) == 0);
    CHECK(pixl_label_store_add_image(s, "b", 6, 7) == 1);
    CHECK(pixl_label_store_add_image(s, "a", 4, 5) == 0); /* again, same size */
    CHECK(pixl_label_store_add_image(s, "a", 5, 4) == PIXL_ERR_ARG && has("'a'"));
    CHECK(pixl_label_store_add_image(s, "", 4, 5) < 0);
    CHECK(pixl_label_store_add_image(s, "c", 0, 5) < 0 && has("height 0"));
    CHECK_OK(pixl_label_store_add(s, "a", 0, 0, 0, 0));
    CHECK_OK(pixl_label_store_add(s, "a", 3, 4, 2, 1));
    CHECK_OK(pixl_label_store_add(s, "a", 1, 2, 1, 0));
    /* refusals, each naming the image; the store unchanged */
    CHECK(pixl_label_store_add(s, "a", 4, 0, 0, 0) == PIXL_ERR_ARG && has("'a'") && has("outside the image"));
    CHECK(pixl_label_store_add(s, "a", 0, 5, 0, 0) == PIXL_ERR_ARG && has("width 5"));
    CHECK(pixl_label_store_add(s, "a", -1, 0, 0, 0) == PIXL_ERR_ARG);
    CHECK(pixl_label_store_add(s, "a", 2, 2, 3, 0) == PIXL_ERR_ARG && has("class 3 outside [0, 3)"));
    CHECK(pixl_label_store_add(s, "a", 2, 2, -1, 0) == PIXL_ERR_ARG);
    CHECK(pixl_label_store_add(s, "a", 2, 2, 255, 0) == PIXL_ERR_ARG && has("ignore (void)"));
    CHECK(pixl_label_store_add(s, "a", 2, 2, 1, -1) == PIXL_ERR_ARG && has("round -1"));
    CHECK(pixl_label_store_add(s, "a", 1, 2, 1, 0) == PIXL_ERR_STATE && has("labelled already"));
    CHECK(pixl_label_store_add(s, "a", 1, 2, 2, 3) == PIXL_ERR_STATE); /* another class: still refused */
    CHECK(pixl_label_store_add(s, "zz", 0, 0, 0, 0) == PIXL_ERR_NOT_FOUND && has("'zz'"));
    CHECK(pixl_label_store_count(s, "a") == 3 && pixl_label_store_count(s, "b") == 0 &&
          pixl_label_store_count(s, "zz") == 0 && pixl_label_store_total(s) == 3);
    /* lookups and iteration in the order added */
    pixl_label_point p;
    CHECK(pixl_label_store_get(s, "a", 3, 4, &p) == 1 && p.label == 2 && p.round == 1);
    CHECK(pixl_label_store_get(s, "a", 3, 3, &p) == 0 && pixl_label_store_get(s, "zz", 0, 0, NULL) == 0);
    int h, w, n;
    CHECK(!strcmp(pixl_label_store_image(s, 0, &h, &w, &n), "a") && h == 4 && w == 5 && n == 3);
    CHECK(pixl_label_store_image(s, 2, NULL, NULL, NULL) == NULL && pixl_label_store_points(s, 1) == NULL);
    const pixl_label_point *pts = pixl_label_store_points(s, 0);
    CHECK(pts[0].y == 0 && pts[1].y == 3 && pts[2].y == 1 && pts[2].x == 2);
    CHECK(pixl_label_store_find(s, "b") == 1 && pixl_label_store_find(s, "B") == -1);
    /* undo takes back the last one; remove keeps the order of the rest */
    CHECK_OK(pixl_label_store_undo(s, "a", &p));
    CHECK(p.y == 1 && p.x == 2 && p.label == 1 && pixl_label_store_count(s, "a") == 2);
    CHECK(pixl_label_store_get(s, "a", 1, 2, NULL) == 0);
    CHECK_OK(pixl_label_store_add(s, "a", 1, 2, 2, 0)); /* free again: relabelled */
    CHECK_OK(pixl_label_store_remove(s, "a", 0, 0));
    pts = pixl_label_store_points(s, 0);
    CHECK(pixl_label_store_count(s, "a") == 2 && pts[0].y == 3 && pts[1].y == 1 && pts[1].label == 2);
    CHECK(pixl_label_store_get(s, "a", 3, 4, NULL) == 1 && pixl_label_store_get(s, "a", 1, 2, NULL) == 1);
    CHECK(pixl_label_store_remove(s, "a", 0, 0) == PIXL_ERR_NOT_FOUND && has("not labelled"));
    CHECK(pixl_label_store_undo(s, "b", NULL) == PIXL_ERR_STATE && has("no point"));
    CHECK(pixl_label_store_undo(s, "zz", NULL) == PIXL_ERR_NOT_FOUND);
    CHECK(pixl_label_store_total(s) == 2);
    /* many points and images: the tables grow and still find everything */
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "img%03d", i);
        CHECK(pixl_label_store_add_image(s, id, 50, 60) == i + 2);
        for (int k = 0; k < 40; k++) pixl_label_store_add(s, id, (k * 7 + i) % 50, (k * 13) % 60, k % 3, 0);
    }
    int ok = 1;
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "img%03d", i);
        for (int k = 0; k < 40; k++) ok &= pixl_label_store_get(s, id, (k * 7 + i) % 50, (k * 13) % 60, &p) == 1 && p.label == k % 3;
    }
    CHECK(ok && pixl_label_store_total(s) == 2 + 300 * 40);
    pixl_label_store *c = pixl_label_store_clone(s);
    CHECK(c && store_equal(s, c) && !strcmp(pixl_label_store_class_name(c, 2), "car"));
    pixl_label_store_free(c);
    pixl_label_store_free(s);
}

static pixl_label_store *store_with(int K, const char *id, int h, int w, int n, const int (*pts)[4])
{
    pixl_label_store *s = pixl_label_store_new(K, NULL);
    pixl_label_store_add_image(s, id, h, w);
    for (int i = 0; i < n; i++) CHECK_OK(pixl_label_store_add(s, id, pts[i][0], pts[i][1], pts[i][2], pts[i][3]));
    return s;
}

PIXL_TEST(label_store_merge_rules)
{
    /* round 0 in A; round 1 in B: one new pixel, one agreeing pixel, one relabelled, and a new image */
    const int a_pts[3][4] = {{0, 0, 1, 0}, {1, 1, 2, 0}, {2, 2, 3, 0}};
    const int b_pts[3][4] = {{1, 1, 2, 1}, {2, 2, 0, 1}, {3, 3, 4, 1}};
    pixl_label_store *A = store_with(5, "img", 8, 8, 3, a_pts), *B = store_with(5, "img", 8, 8, 3, b_pts);
    pixl_label_store_add_image(B, "other", 4, 4);
    CHECK_OK(pixl_label_store_add(B, "other", 0, 1, 1, 1));
    int64_t added = -1, conflicts = -1;
    pixl_label_point p;
    pixl_label_store *M = pixl_label_store_clone(A);
    CHECK_OK(pixl_label_store_merge(M, B, PIXL_MERGE_LATER_ROUND, &added, &conflicts));
    CHECK(added == 2 && conflicts == 1 && pixl_label_store_total(M) == 5 && pixl_label_store_n_images(M) == 2);
    CHECK(pixl_label_store_get(M, "img", 1, 1, &p) == 1 && p.label == 2 && p.round == 0); /* same class: earlier round */
    CHECK(pixl_label_store_get(M, "img", 2, 2, &p) == 1 && p.label == 0 && p.round == 1); /* later round wins */
    CHECK(pixl_label_store_get(M, "img", 3, 3, &p) == 1 && p.round == 1);
    CHECK(pixl_label_store_get(M, "other", 0, 1, &p) == 1 && p.label == 1);
    CHECK(pixl_label_store_points(M, 0)[3].y == 3); /* appended after A's points */
    pixl_label_store_free(M);
    /* the other way round: A's round-0 label is older, so B's stays */
    M = pixl_label_store_clone(B);
    CHECK_OK(pixl_label_store_merge(M, A, PIXL_MERGE_LATER_ROUND, &added, &conflicts));
    CHECK(added == 1 && conflicts == 1);
    CHECK(pixl_label_store_get(M, "img", 2, 2, &p) == 1 && p.label == 0 && p.round == 1);
    CHECK(pixl_label_store_get(M, "img", 1, 1, &p) == 1 && p.round == 0);
    pixl_label_store_free(M);
    /* strict: any two classes on a pixel is an error naming it; dst unchanged */
    M = pixl_label_store_clone(A);
    CHECK(pixl_label_store_merge(M, B, PIXL_MERGE_STRICT, NULL, NULL) == PIXL_ERR_STATE);
    CHECK(has("'img'") && has("(y 2, x 2)") && has("class 3 (round 0)") && has("class 0 (round 1)"));
    CHECK(store_equal(M, A));
    /* overwrite: src wins whatever the rounds */
    CHECK_OK(pixl_label_store_merge(M, B, PIXL_MERGE_OVERWRITE, NULL, NULL));
    CHECK(pixl_label_store_get(M, "img", 2, 2, &p) == 1 && p.label == 0);
    pixl_label_store_free(M);
    /* the same round with two classes: no later label to prefer */
    const int c_pts[1][4] = {{2, 2, 4, 0}};
    pixl_label_store *C = store_with(5, "img", 8, 8, 1, c_pts);
    M = pixl_label_store_clone(A);
    CHECK(pixl_label_store_merge(M, C, PIXL_MERGE_LATER_ROUND, NULL, NULL) == PIXL_ERR_STATE && has("same round"));
    CHECK(store_equal(M, A));
    CHECK_OK(pixl_label_store_merge(M, C, PIXL_MERGE_OVERWRITE, &added, &conflicts));
    CHECK(added == 0 && conflicts == 1);
    pixl_label_store_free(M);
    /* stores that do not go together */
    pixl_label_store *D = store_with(4, "img", 8, 8, 0, NULL), *E = store_with(5, "img", 9, 8, 0, NULL);
    M = pixl_label_store_clone(A);
    CHECK(pixl_label_store_merge(M, D, PIXL_MERGE_LATER_ROUND, NULL, NULL) == PIXL_ERR_ARG && has("5 classes and 4"));
    CHECK(pixl_label_store_merge(M, E, PIXL_MERGE_LATER_ROUND, NULL, NULL) == PIXL_ERR_ARG && has("'img'"));
    CHECK(store_equal(M, A));
    const char *n1[5] = {"a", "b", "c", "d", "e"}, *n2[5] = {"A", "B", "C", "D", "x"};
    pixl_label_store *F = pixl_label_store_new(5, n1), *G = pixl_label_store_new(5, n2);
    CHECK_OK(pixl_label_store_merge(M, F, PIXL_MERGE_LATER_ROUND, NULL, NULL)); /* M takes F's names */
    CHECK(!strcmp(pixl_label_store_class_name(M, 4), "e"));
    CHECK(pixl_label_store_merge(M, G, PIXL_MERGE_LATER_ROUND, NULL, NULL) == PIXL_ERR_ARG && has("class 4 is 'e'"));
    pixl_label_store_free(M);
    pixl_label_store *list[] = {A, B, C, D, E, F, G};
    for (int i = 0; i < 7; i++) pixl_label_store_free(list[i]);
}

/* ------------------------------------------------------------ files */

/* a store of a few images: names to escape, images without points */
static pixl_label_store *sample_store(int with_names, int scale)
{
    const char *names[4] = {"sky \"blue\"", "road\\lane", "caf\xc3\xa9", "tab\there"};
    pixl_label_store *s = pixl_label_store_new(4, with_names ? names : NULL);
    const char *ids[3] = {"0001TP_006690", "id with \"quotes\"", "empty"};
    for (int i = 0; i < 3; i++) pixl_label_store_add_image(s, ids[i], 360 + i, 480 - i);
    for (int k = 0; k < 5 * scale; k++) {
        pixl_label_store_add(s, ids[0], (k * 37) % 360, (k * 101) % 480, k % 4, k % 3);
        pixl_label_store_add(s, ids[1], (k * 53) % 361, (k * 7) % 479, (k + 1) % 4, 2);
    }
    return s;
}

PIXL_TEST(label_store_save_load_round_trip)
{
    for (int names = 0; names < 2; names++) {
        pixl_label_store *s = sample_store(names, 1);
        const char *path = tpath("round_trip.json");
        CHECK_OK(pixl_label_store_save(s, path));
        pixl_label_store *t = pixl_label_store_load(path);
        CHECK_MSG(t != NULL, "%s", pixl_last_error());
        CHECK(t && store_equal(s, t));
        size_t n;
        char *text = read_all(path, &n);
        CHECK(text && strstr(text, "\"format\": \"pixl-label-store\"") && strstr(text, "\"version\": 1"));
        CHECK(text && (strstr(text, "\"class_names\"") != NULL) == names);
        free(text);
        /* saving what was loaded gives the same bytes */
        const char *again = tpath("round_trip2.json");
        CHECK_OK(pixl_label_store_save(t, again));
        size_t n2;
        char *a = read_all(path, &n), *b = read_all(again, &n2);
        CHECK(a && b && n == n2 && !memcmp(a, b, n));
        free(a), free(b);
        pixl_label_store_free(t);
        pixl_label_store_free(s);
    }
    /* an empty store */
    pixl_label_store *e = pixl_label_store_new(1, NULL), *f = NULL;
    CHECK_OK(pixl_label_store_save(e, tpath("empty.json")));
    CHECK((f = pixl_label_store_load(tpath("empty.json"))) != NULL && store_equal(e, f));
    pixl_label_store_free(e), pixl_label_store_free(f);
    /* no temporary file is left behind */
    DIR *d = opendir(pixl_test_tmpdir());
    struct dirent *de;
    int left = 0;
    while (d && (de = readdir(d)))
        left += strncmp(de->d_name, "round_trip", 10) == 0 && strstr(de->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    CHECK(left == 0);
    /* a folder that does not exist: an error naming the path */
    e = pixl_label_store_new(1, NULL);
    CHECK(pixl_label_store_save(e, "/nonexistent-dir/x.json") == PIXL_ERR_IO && has("/nonexistent-dir/x.json"));
    pixl_label_store_free(e);
}

#define HDR "{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 3, "
#define IMG(pts) HDR "\"images\": [{\"id\": \"a\", \"height\": 4, \"width\": 5, \"points\": [" pts "]}]}"

PIXL_TEST(label_store_load_errors)
{
    static const struct { const char *text, *want; } cases[] = {
        {"", "empty file"},
        {"not json", ":1:1: not valid JSON"},
        {"{\n  \"format\": \"pixl-label-store\",\n  \"version\": 1,\n  \"n_classes\": 3,\n  \"images\": [", "truncated"},
        {"{\"format\": \"pixl-label-store\",\n \"version\": 1,, }", ":2:"},
        {"[1, 2]", "expected a JSON object, got an array"},
        {"{\"format\": \"other\", \"version\": 1}", "\"format\" is 'other'"},
        {"{\"version\": 1}", "\"format\" is missing"},
        {"{\"format\": \"pixl-label-store\", \"version\": 2, \"n_classes\": 3, \"images\": []}", "version 2 is newer"},
        {"{\"format\": \"pixl-label-store\", \"version\": \"1\", \"n_classes\": 3, \"images\": []}",
         "version: expected an integer, got a string"},
        {"{\"format\": \"pixl-label-store\", \"version\": 1.5, \"n_classes\": 3, \"images\": []}", "1.5 is not an integer"},
        {"{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 0, \"images\": []}", "n_classes: 0"},
        {"{\"format\": \"pixl-label-store\", \"version\": 1, \"n_classes\": 256, \"images\": []}", "n_classes: 256"},
        {HDR "\"class_names\": [\"a\", \"b\"], \"images\": []}", "class_names: expected an array of n_classes = 3"},
        {HDR "\"class_names\": [\"a\", 2, \"c\"], \"images\": []}", "class_names[1]: expected a non-empty string"},
        {HDR "\"images\": {}}", "images: expected an array, got an object"},
        {HDR "\"imgs\": []}", "images: expected an array, got missing"},
        {HDR "\"images\": [5]}", "images[0]: expected an object"},
        {HDR "\"images\": [{\"height\": 4, \"width\": 5, \"points\": []}]}", "images[0].id: expected a non-empty string"},
        {HDR "\"images\": [{\"id\": \"\", \"height\": 4, \"width\": 5, \"points\": []}]}", "images[0].id"},
        {HDR "\"images\": [{\"id\": \"a\", \"height\": -1, \"width\": 5, \"points\": []}]}",
         "images[0] 'a'.height: -1 is not an integer in [1, 32768]"},
        {HDR "\"images\": [{\"id\": \"a\", \"height\": 4, \"width\": \"5\", \"points\": []}]}",
         "'a'.width: expected an integer, got a string"},
        {HDR "\"images\": [{\"id\": \"a\", \"height\": 4, \"width\": 5}]}", "'a'.points: expected an array, got missing"},
        {IMG("[1, 2, 0]"), "points[0]: expected [y, x, class, round], got an array of another length"},
        {IMG("[1, 2, 0, 0], 7"), "points[1]: expected [y, x, class, round], got a number"},
        {IMG("[1, 2, \"road\", 0]"), "points[0]: expected an integer, got a string"},
        {IMG("[4, 0, 0, 0]"), "points[0]: image 'a': pixel (y 4, x 0) is outside the image (height 4, width 5)"},
        {IMG("[0, 0, 0, 0], [0, -1, 0, 0]"), "points[1]: image 'a': pixel (y 0, x -1) is outside"},
        {IMG("[0, 0, 3, 0]"), "class 3 outside [0, 3)"},
        {IMG("[0, 0, 255, 0]"), "ignore (void) label"},
        {IMG("[0, 0, 1, -1]"), "round -1 < 0"},
        {IMG("[0, 0, 1, 0], [2, 2, 1, 0], [0, 0, 2, 1]"), "points[2]: image 'a': pixel (y 0, x 0) is labelled already"},
        {IMG("[1e10, 0, 0, 0]"), "is not an integer in"},
        {IMG("[0.5, 0, 0, 0]"), "0.5 is not an integer"},
        {HDR "\"images\": [{\"id\": \"a\", \"height\": 4, \"width\": 5, \"points\": []}, "
             "{\"id\": \"a\", \"height\": 4, \"width\": 5, \"points\": []}]}",
         "images[1]: image 'a' is listed twice"},
        {HDR "\"images\": []} x", "text after the JSON value"},
        {"{\"format\": \"pixl-label-store\", \"version\": NaN}", "not valid JSON"},
        {"\x89PNG\r\n\x1a\n\0\0\0", "not valid JSON"},
    };
    const char *path = tpath("bad.json");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].text);
        if (!strncmp(cases[i].text, "\x89PNG", 4)) n = 11;
        write_bytes(path, cases[i].text, n);
        pixl_clear_error();
        pixl_label_store *s = pixl_label_store_load(path);
        CHECK_MSG(s == NULL, "case %zu loaded", i);
        CHECK_MSG(has(path) && has(cases[i].want), "case %zu: want '%s' and the path, got: %s", i, cases[i].want,
                  pixl_last_error());
        pixl_label_store_free(s);
    }
    CHECK(pixl_label_store_load(tpath("missing.json")) == NULL && pixl_last_status() == PIXL_ERR_NOT_FOUND &&
          has("missing.json"));
    CHECK(pixl_label_store_load(pixl_test_tmpdir()) == NULL && has("not a regular file"));
}

/* every prefix of a valid file, and random byte changes: an error naming the file, or (a prefix that only
 * lacks trailing white space) the same store; never a crash */
PIXL_TEST(label_store_load_truncated_and_corrupted)
{
    pixl_label_store *s = sample_store(1, 1);
    const char *path = tpath("fuzz_src.json"), *cut = tpath("fuzz.json");
    CHECK_OK(pixl_label_store_save(s, path));
    size_t n;
    char *text = read_all(path, &n);
    if (!text) return;
    int errors = 0, loaded = 0;
    for (size_t k = 0; k < n; k++) {
        write_bytes(cut, text, k);
        pixl_label_store *t = pixl_label_store_load(cut);
        if (t) {
            size_t j = k;
            while (j < n && strchr(" \n\r\t", text[j])) j++;
            CHECK_MSG(j == n && store_equal(s, t), "a prefix of %zu of %zu bytes loaded", k, n);
            loaded++;
        } else {
            CHECK_MSG(has(cut), "prefix %zu: error without the file name: %s", k, pixl_last_error());
            errors++;
        }
        pixl_label_store_free(t);
    }
    CHECK(errors == (int)n - loaded && loaded <= 1);
    uint64_t r = 12345;
    int ok_after = 0;
    for (int trial = 0; trial < 400; trial++) {
        char *m = malloc(n);
        memcpy(m, text, n);
        for (int c = 0; c < 1 + trial % 3; c++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            m[(r >> 33) % n] = (char)(r >> 13);
        }
        write_bytes(cut, m, n);
        pixl_label_store *t = pixl_label_store_load(cut);
        if (t) ok_after++;
        else CHECK_MSG(has(cut) && strlen(pixl_last_error()) > strlen(cut) + 10, "trial %d: %s", trial, pixl_last_error());
        pixl_label_store_free(t);
        free(m);
    }
    printf("    %d prefixes refused, %d byte-changed files still valid of 400\n", errors, ok_after);
    free(text);
    pixl_label_store_free(s);
}

/* a child rewrites the store in a loop and is killed at random moments: the
 * file is always the old or the new store, complete */
PIXL_TEST(label_store_survives_kill9)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/kill9", pixl_test_tmpdir());
    mkdir(dir, 0755);
    char path[700];
    snprintf(path, sizeof path, "%s/labels.json", dir);
    pixl_label_store *A = sample_store(1, 600), *B = pixl_label_store_clone(A);
    pixl_label_store_add_image(B, "extra", 10, 10);
    CHECK_OK(pixl_label_store_add(B, "extra", 1, 1, 1, 3));
    CHECK_OK(pixl_label_store_undo(B, "0001TP_006690", NULL));
    CHECK_OK(pixl_label_store_save(A, path));
    uint64_t r = 99;
    int seen_a = 0, seen_b = 0, leftovers = 0;
    for (int trial = 0; trial < 12; trial++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            for (unsigned i = 0;; i++) pixl_label_store_save(i & 1 ? B : A, path);
            _exit(0);
        }
        CHECK(pid > 0);
        if (pid < 0) break;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        usleep((useconds_t)(1000 + (r >> 33) % 30000));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        pixl_label_store *L = pixl_label_store_load(path);
        CHECK_MSG(L != NULL, "trial %d: %s", trial, pixl_last_error());
        int is_a = L && store_equal(L, A), is_b = L && store_equal(L, B);
        CHECK_MSG(is_a || is_b, "trial %d: the file is neither the old nor the new store", trial);
        seen_a += is_a, seen_b += is_b;
        pixl_label_store_free(L);
        DIR *d = opendir(dir); /* the killed writer's temporary file, if any */
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strstr(de->d_name, ".tmp.")) {
                char p[1024];
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                unlink(p);
                leftovers++;
            }
        if (d) closedir(d);
    }
    printf("    12 kills: old store %d times, new %d times; %d killed mid-write (temporary file left)\n", seen_a,
           seen_b, leftovers);
    pixl_label_store_free(A);
    pixl_label_store_free(B);
}

/* ------------------------------------------------------------ VIA, click logs */

static pixl_dataset *synth(int count)
{
    pixl_dataset_opts o = {.kind = "synthetic", .count = count, .width = 48, .height = 40, .seed = 3};
    return pixl_dataset_open(&o);
}

static int point_is(const pixl_label_store *s, const char *id, int y, int x, int label, int round)
{
    pixl_label_point p;
    return pixl_label_store_get(s, id, y, x, &p) == 1 && p.label == label && p.round == round;
}

static const char *via2_text =
    "{\"_via_settings\": {\"ui\": {}},\n"
    " \"_via_img_metadata\": {\n"
    "  \"synthetic_000001.png1234\": {\"filename\": \"synthetic_000001.png\", \"size\": 1234, \"regions\": [\n"
    "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 10, \"cy\": 5}, \"region_attributes\": {\"class\": \"disc\"}},\n"
    "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 3.4, \"cy\": 7.6}, \"region_attributes\": {\"class\": \"r\"}},\n"
    "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 20, \"cy\": 30}, \"region_attributes\": {\"class\": \"\"}},\n"
    "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 21, \"cy\": 30},\n"
    "     \"region_attributes\": {\"class\": {\"triangle\": true, \"disc\": false}}}], \"file_attributes\": {}},\n"
    "  \"synthetic_000003.png99\": {\"filename\": \"images/synthetic_000003.png\", \"size\": 99, \"regions\": [\n"
    "    {\"shape_attributes\": {\"name\": \"point\", \"cx\": 0, \"cy\": 0}, \"region_attributes\": {\"class\": \"Rectangle\"}}]},\n"
    "  \"elsewhere.png1\": {\"filename\": \"elsewhere.png\", \"size\": 1, \"regions\": []}},\n"
    " \"_via_attributes\": {\"region\": {\"class\": {\"type\": \"dropdown\",\n"
    "    \"options\": {\"r\": \"Ring\", \"b\": \"background\"}}}, \"file\": {}}}\n";

/* PixelPick's VIA tool: VIA 3 with key options (K -> "bacKground") */
static const char *via3_text =
    "{\"project\": {\"pid\": \"__VIA_PROJECT_ID__\", \"data_format_version\": \"3.1.1\", \"vid_list\": [\"0\", \"1\"]},\n"
    " \"config\": {\"ui\": {\"spatial_region_label_attribute_id\": \"1\"}},\n"
    " \"attribute\": {\"1\": {\"aname\": \"Class\", \"anchor_id\": \"FILE1_Z0_XY1\", \"type\": 3, \"desc\": \"\",\n"
    "    \"options\": {\"K\": \"bacKground\", \"D\": \"Disc\", \"R\": \"Ring\"}, \"default_option_id\": \"\"}},\n"
    " \"file\": {\"0\": {\"fid\": 0, \"fname\": \"datasets/x/synthetic_000002.png\", \"type\": 2, \"loc\": 2,\n"
    "                \"src\": \"datasets/x/synthetic_000002.png\"},\n"
    "          \"1\": {\"fid\": 1, \"fname\": \"synthetic_000004.png\", \"type\": 2, \"loc\": 2, \"src\": \"synthetic_000004.png\"}},\n"
    " \"view\": {\"0\": {\"fid_list\": [0]}, \"1\": {\"fid_list\": [1]}},\n"
    " \"metadata\": {\"0_abcdefgh\": {\"vid\": \"0\", \"flg\": 0, \"z\": [], \"xy\": [1, 12, 7], \"av\": {\"1\": \"D\"}},\n"
    "              \"0_bcdefghi\": {\"vid\": \"0\", \"flg\": 0, \"z\": [], \"xy\": [1, 2, 3], \"av\": {\"1\": \"k\"}},\n"
    "              \"1_cdefghij\": {\"vid\": \"1\", \"flg\": 0, \"z\": [], \"xy\": [1, 47, 39], \"av\": {}},\n"
    "              \"1_defghijk\": {\"vid\": \"1\", \"flg\": 0, \"z\": [], \"xy\": [1, 40, 30], \"av\": {\"1\": \"R\"}}}}\n";

PIXL_TEST(label_store_via_import)
{
    pixl_dataset *ds = synth(6); /* classes background, disc, rectangle, triangle, ring; 48 x 40 */
    CHECK(ds != NULL);
    if (!ds) return;
    const char *path = tpath("via2.json");
    write_text(path, via2_text);
    int skipped = -1;
    pixl_label_store *s = pixl_label_store_import_via(path, ds, NULL, 2, &skipped);
    CHECK_MSG(s != NULL, "%s", pixl_last_error());
    if (s) {
        int h, w;
        CHECK(pixl_label_store_n_images(s) == 2 && pixl_label_store_total(s) == 4 && skipped == 1);
        CHECK(!strcmp(pixl_label_store_image(s, 0, &h, &w, NULL), "synthetic_000001") && h == 40 && w == 48);
        CHECK(point_is(s, "synthetic_000001", 5, 10, 1, 2));  /* "disc" */
        CHECK(point_is(s, "synthetic_000001", 8, 3, 4, 2));   /* option "r" -> "Ring", (7.6, 3.4) rounded */
        CHECK(point_is(s, "synthetic_000001", 30, 21, 3, 2)); /* the checked box */
        CHECK(point_is(s, "synthetic_000003", 0, 0, 2, 2));   /* "Rectangle", a path in the file name */
        CHECK(!strcmp(pixl_label_store_class_name(s, 4), "ring"));
    }
    pixl_label_store_free(s);
    /* the same regions exported as annotations (the image entries at the top) */
    const char *meta = strstr(via2_text, "\"_via_img_metadata\": ") + strlen("\"_via_img_metadata\": ");
    const char *end = strstr(via2_text, ",\n \"_via_attributes\"");
    char exp[4096], exp2[4096];
    snprintf(exp, sizeof exp, "%.*s", (int)(end - meta), meta);
    write_text(path, exp); /* no attribute definitions here: option "r" means nothing */
    s = pixl_label_store_import_via(path, ds, "class", 0, &skipped);
    CHECK_MSG(s == NULL && has("unknown class 'r'"), "an export without the options: %s", pixl_last_error());
    CHECK(replace_once(exp, "\"class\": \"r\"", "\"class\": \"ring\"", exp2, sizeof exp2));
    write_text(path, exp2);
    s = pixl_label_store_import_via(path, ds, "class", 0, &skipped);
    CHECK_MSG(s != NULL, "%s", pixl_last_error());
    CHECK(s && pixl_label_store_total(s) == 4 && point_is(s, "synthetic_000001", 8, 3, 4, 0) && skipped == 1);
    pixl_label_store_free(s);
    /* VIA 3 as PixelPick's tool writes it */
    write_text(path, via3_text);
    s = pixl_label_store_import_via(path, ds, NULL, 0, &skipped);
    CHECK_MSG(s != NULL, "%s", pixl_last_error());
    if (s) {
        CHECK(pixl_label_store_total(s) == 3 && skipped == 1);
        CHECK(point_is(s, "synthetic_000002", 7, 12, 1, 0) && point_is(s, "synthetic_000002", 3, 2, 0, 0));
        CHECK(point_is(s, "synthetic_000004", 30, 40, 4, 0));
    }
    pixl_label_store_free(s);
    CHECK((s = pixl_label_store_import_via(path, ds, "class", 0, NULL)) != NULL); /* by aname */
    pixl_label_store_free(s);
    CHECK(pixl_label_store_import_via(path, ds, "colour", 0, NULL) == NULL && has("no attribute 'colour'"));
    /* errors name the file, the image or region and the value */
    static const struct { const char *from, *to, *want; } bad[] = {
        {"\"class\": \"disc\"", "\"class\": \"tree\"", "unknown class 'tree'"},
        {"\"filename\": \"synthetic_000001.png\"", "\"filename\": \"synthetic_000099.png\"",
         "image 'synthetic_000099.png' is not in the synthetic dataset"},
        {"{\"name\": \"point\", \"cx\": 10, \"cy\": 5}", "{\"name\": \"rect\", \"x\": 1, \"y\": 1, \"width\": 3, \"height\": 4}",
         "region 0: a 'rect' region"},
        {"\"cx\": 10, \"cy\": 5", "\"cx\": 48, \"cy\": 5", "pixel (y 5, x 48) is outside the image (height 40, width 48)"},
        {"\"cx\": 21, \"cy\": 30", "\"cx\": 10, \"cy\": 5", "labelled already"},
        {"\"cx\": 10, \"cy\": 5", "\"cx\": \"10\", \"cy\": 5", "cx: expected a number, got a string"},
        {"{\"class\": \"disc\"}", "{\"class\": \"disc\", \"note\": \"x\"}", "name the one that holds the class"},
        {"\"_via_img_metadata\"", "\"_via_img_metadatum\"", "not a VIA file"},
        {"\"size\": 1234,", "\"size\": 12 34,", ":3:79: not valid JSON"},
        {"\"class\": \"disc\"}}", "\"class\": \"disc\"}", "not complete at the end of the file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[4096];
        int found = replace_once(via2_text, bad[i].from, bad[i].to, text, sizeof text);
        CHECK_MSG(found, "case %zu", i);
        if (!found) continue;
        write_text(path, text);
        s = pixl_label_store_import_via(path, ds, NULL, 0, NULL);
        CHECK_MSG(s == NULL && has(path) && has(bad[i].want), "case %zu: want '%s': %s", i, bad[i].want,
                  pixl_last_error());
        pixl_label_store_free(s);
    }
    CHECK(has("via2.json"));
    char text[4096]; /* an unknown class lists the dataset's */
    CHECK(replace_once(via2_text, "\"Rectangle\"", "\"lorry\"", text, sizeof text));
    write_text(path, text);
    CHECK(pixl_label_store_import_via(path, ds, NULL, 0, NULL) == NULL && has("'lorry'") &&
          has("background, disc, rectangle, triangle, ring"));
    pixl_dataset_free(ds);
}

PIXL_TEST(label_store_click_log)
{
    const char *names[11] = {"Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                             "Pedestrian", "Bicyclist"};
    const char *path = tpath("0001TP_006690.txt");
    pixl_click rows[3] = {{120, 33, 3, 1.532, 1.532}, {48, 301, 0, 0.1 + 0.2, 1.532 + 0.1 + 0.2}, {0, 0, 6, 2, 4}};
    CHECK_OK(pixl_click_log_save(path, rows, 3, 11, names));
    size_t n;
    char *text = read_all(path, &n);
    CHECK(text && !strncmp(text, "loc,label,elapsed_time,total_time\n(120, 33),road,1.532,1.532\n", 61));
    CHECK(text && strstr(text, "(0, 0),signsymbol,2,4\n"));
    free(text);
    pixl_click *got = NULL;
    int ng = 0;
    CHECK_OK(pixl_click_log_load(path, 11, names, &got, &ng));
    int same = ng == 3 && got;
    for (int i = 0; same && i < 3; i++) /* numbers read back exactly */
        same = got[i].y == rows[i].y && got[i].x == rows[i].x && got[i].label == rows[i].label &&
               got[i].seconds == rows[i].seconds && got[i].total == rows[i].total;
    CHECK(same);
    free(got);
    /* the seed tool's own file: numpy locations, CRLF, a trailing blank line, VIA-style names */
    write_text(path, "loc,label,elapsed_time,total_time\r\n(12, 40),road,1.5314998626708984,1.5314998626708984\r\n"
                     "(np.int64(3), np.int64(7)),sign symbol,0.25,1.7814998626708984\r\n\r\n");
    CHECK_OK(pixl_click_log_load(path, 11, names, &got, &ng));
    CHECK(ng == 2 && got && got[0].y == 12 && got[0].x == 40 && got[0].label == 3 && got[1].y == 3 && got[1].x == 7 &&
          got[1].label == 6 && got[1].seconds == 0.25);
    free(got);
    static const struct { const char *text, *want; } bad[] = {
        {"", "empty file"},
        {"loc,label\n", ":1: expected the header"},
        {"loc,label,elapsed_time,total_time\n12, 40,road,1,1\n", ":2: expected a location"},
        {"loc,label,elapsed_time,total_time\n(12, 40),road,1,1\n(1, x),road,1,1\n", ":3: expected a location"},
        {"loc,label,elapsed_time,total_time\n(12, 40),tree house,1,1\n", ":2: unknown class 'tree house' (classes: Sky,"},
        {"loc,label,elapsed_time,total_time\n(12, 40),road,fast,1\n", ":2: expected \"label,elapsed_time,total_time\""},
        {"loc,label,elapsed_time,total_time\n(12, 40),road,1\n", ":2: expected"},
        {"loc,label,elapsed_time,total_time\n(-1, 40),road,1,1\n", ":2: expected a location"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        got = NULL;
        CHECK_MSG(pixl_click_log_load(path, 11, names, &got, &ng) != 0 && !got && has(path) && has(bad[i].want),
                  "case %zu: want '%s': %s", i, bad[i].want, pixl_last_error());
    }
    pixl_click out = {1, 1, 11, 0, 0};
    CHECK(pixl_click_log_save(path, &out, 1, 11, names) == PIXL_ERR_ARG && has("class 11"));
    /* no names: "classK" both ways */
    out.label = 2;
    CHECK_OK(pixl_click_log_save(path, &out, 1, 3, NULL));
    CHECK_OK(pixl_click_log_load(path, 3, NULL, &got, &ng));
    CHECK(ng == 1 && got && got[0].label == 2);
    free(got);
}

/* ------------------------------------------------------------ sparse maps */

PIXL_TEST(label_store_apply_and_sparse_resize)
{
    pixl_label_store *s = pixl_label_store_new(5, NULL);
    pixl_label_store_add_image(s, "img", 8, 10);
    CHECK_OK(pixl_label_store_add(s, "img", 0, 0, 1, 0));
    CHECK_OK(pixl_label_store_add(s, "img", 7, 9, 4, 0));
    CHECK_OK(pixl_label_store_add(s, "img", 3, 5, 2, 1));
    int32_t lab[80];
    for (int p = 0; p < 80; p++) lab[p] = 1; /* dense "ground truth": class 1 everywhere */
    int64_t dis = -1;
    CHECK(pixl_label_store_apply(s, "img", 8, 10, lab, &dis) == 3 && dis == 2);
    int labelled = 0;
    for (int p = 0; p < 80; p++) labelled += lab[p] != 255;
    CHECK(labelled == 3 && lab[0] == 1 && lab[79] == 4 && lab[35] == 2);
    CHECK(pixl_label_store_apply(s, "other", 8, 10, lab, NULL) == 0 && lab[0] == 255 && lab[79] == 255);
    CHECK(pixl_label_store_apply(s, "img", 10, 8, lab, NULL) == PIXL_ERR_SHAPE && has("'img'") && has("height 8"));

    /* enlarging: each point once, on the pixel holding its centre; shrinking: neighbours merge or cancel */
    int32_t src[80];
    pixl_label_store_apply(s, "img", 8, 10, src, NULL);
    int32_t *up = pixl_label_resize_sparse(src, 10, 8, 25, 20), *dn = NULL;
    labelled = 0;
    for (int p = 0; up && p < 25 * 20; p++) labelled += up[p] != 255;
    /* (y, x) -> (floor((2y+1)*20/16), floor((2x+1)*25/20)): (0,0) -> (1,1), (7,9) -> (18,23), (3,5) -> (8,13) */
    CHECK(up && labelled == 3 && up[1 * 25 + 1] == 1 && up[18 * 25 + 23] == 4 && up[8 * 25 + 13] == 2);
    int32_t *near = pixl_label_resize(src, 10, 8, 25, 20); /* what a nearest resize does to single pixels */
    int nn = 0;
    for (int p = 0; near && p < 25 * 20; p++) nn += near[p] != 255;
    CHECK(nn > 3);
    int32_t pair[4] = {3, 3, 255, 7}; /* 2x2 -> 1x1: classes 3, 3, 7 meet: the pixel is left ignored */
    dn = pixl_label_resize_sparse(pair, 2, 2, 1, 1);
    CHECK(dn && dn[0] == 255);
    free(dn);
    int32_t same[4] = {3, 255, 3, 255};
    dn = pixl_label_resize_sparse(same, 2, 2, 1, 1);
    CHECK(dn && dn[0] == 3);
    free(dn), free(up), free(near);
    CHECK(pixl_label_resize_sparse(NULL, 2, 2, 1, 1) == NULL);
    pixl_label_store_free(s);
}

/* Scale, crop and flip over many seeds, against the dense labels as the
 * oracle: 8 x 8 blocks of distinct classes, a point at the centre of each.
 * Every labelled output pixel must lie in its own block of the equally
 * augmented dense map (so on its class), no class may appear twice (no
 * labelled pixel is added), and a point may only vanish when its block is
 * cut by the crop (or not shown at all). */
PIXL_TEST(label_store_augment_keeps_points)
{
    enum { B = 8, NBX = 12, NBY = 9, W = B * NBX, H = B * NBY, NB = NBX * NBY };
    int32_t dense[W * H], sparse[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            dense[y * W + x] = (y / B) * NBX + x / B;
            sparse[y * W + x] = y % B == B / 2 && x % B == B / 2 ? dense[y * W + x] : 255;
        }
    pixl_image *img = pixl_image_new(W, H, 3, 8);
    const int crops[4][2] = {{0, 0}, {40, 30}, {160, 120}, {W, 50}};
    int bad_class = 0, duplicated = 0, lost = 0, kept = 0, nearest_wrong = 0;
    for (int seed = 0; seed < 400; seed++) {
        pixl_augment_opts o = {.scale_min = 0.5f, .scale_max = 2.0f, .hflip = 1, .crop_width = crops[seed % 4][0],
                               .crop_height = crops[seed % 4][1]};
        pixl_image *i1 = NULL, *i2 = NULL, *i3 = NULL;
        int32_t *ld = NULL, *ls = NULL, *ln = NULL;
        CHECK_OK(pixl_augment(&o, (uint64_t)seed, img, dense, NULL, &i1, &ld));
        CHECK_OK(pixl_augment(&o, (uint64_t)seed, img, sparse, NULL, &i3, &ln)); /* nearest, for contrast */
        o.sparse_labels = 1;
        CHECK_OK(pixl_augment(&o, (uint64_t)seed, img, sparse, NULL, &i2, &ls));
        if (!ld || !ls || !ln) break;
        const int ow = i1->width, oh = i1->height;
        CHECK(i2->width == ow && i2->height == oh);
        int seen[NB] = {0}, seen_n[NB] = {0}, border[NB] = {0}, present[NB] = {0};
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int p = y * ow + x, v = ls[p], d = ld[p];
                if (d != 255) present[d] = 1, border[d] |= y == 0 || x == 0 || y == oh - 1 || x == ow - 1;
                if (ln[p] != 255) seen_n[ln[p]]++;
                if (v == 255) continue;
                if (v < 0 || v >= NB || d != v) bad_class++;
                else seen[v]++;
            }
        for (int k = 0; k < NB; k++) {
            duplicated += seen[k] > 1;
            nearest_wrong += seen_n[k] != seen[k];
            kept += seen[k] == 1;
            if (!seen[k] && present[k] && !border[k]) lost++;
            if (o.crop_width == 0 && !seen[k]) lost++; /* no crop: every point stays */
        }
        pixl_image_free(i1), pixl_image_free(i2), pixl_image_free(i3);
        free(ld), free(ls), free(ln);
    }
    CHECK_MSG(bad_class == 0, "%d labelled pixels off their class", bad_class);
    CHECK_MSG(duplicated == 0, "%d points duplicated", duplicated);
    CHECK_MSG(lost == 0, "%d points lost inside the crop", lost);
    CHECK(kept > 400 * NB / 4);
    CHECK_MSG(nearest_wrong > 0, "the nearest resize kept the points too: the test would not see a bug");
    printf("    400 seeds: %d points kept, none moved off its class, duplicated or lost; nearest resize: %d wrong\n",
           kept, nearest_wrong);
    pixl_image_free(img);
}

/* ------------------------------------------------------------ datasets, loader, trainer */

/* points on a 6-pixel grid where the 5 x 5 neighbourhood has one class (so any exact move keeps it) */
static pixl_label_store *grid_store(const pixl_dataset *ds, int relabel)
{
    pixl_label_store *s = pixl_label_store_new(pixl_dataset_n_classes(ds), NULL);
    for (int i = 0; i < pixl_dataset_size(ds); i++) {
        pixl_image *img;
        int32_t *lab;
        CHECK_OK(pixl_dataset_load(ds, i, &img, &lab));
        const int w = img->width, h = img->height;
        const char *id = pixl_dataset_sample_name(ds, i);
        pixl_label_store_add_image(s, id, h, w);
        for (int y = 3; y + 2 < h; y += 6)
            for (int x = 3; x + 2 < w; x += 6) {
                int v = lab[y * w + x], uniform = v != 255;
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++) uniform &= lab[(y + dy) * w + x + dx] == v;
                if (uniform) CHECK_OK(pixl_label_store_add(s, id, y, x, relabel ? (v + 1) % 5 : v, 0));
            }
        pixl_image_free(img);
        free(lab);
    }
    return s;
}

PIXL_TEST(label_store_dataset_sparse_labels)
{
    pixl_dataset *ds = synth(4);
    pixl_label_store *s = grid_store(ds, 1);
    CHECK(pixl_label_store_total(s) > 40);
    CHECK_OK(pixl_dataset_set_sparse_labels(ds, s));
    CHECK(pixl_dataset_sparse_labels(ds) != NULL && pixl_label_store_total(pixl_dataset_sparse_labels(ds)) ==
                                                        pixl_label_store_total(s));
    for (int i = 0; i < 4; i++) { /* the store's classes (here not the ground truth's) at its points, 255 elsewhere */
        pixl_image *img;
        int32_t *lab;
        CHECK_OK(pixl_dataset_load(ds, i, &img, &lab));
        const char *id = pixl_dataset_sample_name(ds, i);
        int labelled = 0, right = 1;
        for (int p = 0; p < 48 * 40; p++) {
            pixl_label_point q;
            int at = pixl_label_store_get(s, id, p / 48, p % 48, &q);
            labelled += lab[p] != 255;
            right &= at ? lab[p] == q.label : lab[p] == 255;
        }
        CHECK(right && labelled == pixl_label_store_count(s, id));
        pixl_image_free(img), free(lab);
    }
    /* the dataset keeps its own copy */
    pixl_label_store_free(s);
    CHECK(pixl_label_store_total(pixl_dataset_sparse_labels(ds)) > 40);
    /* a store that does not fit: nothing changes */
    pixl_label_store *four = pixl_label_store_new(4, NULL);
    CHECK(pixl_dataset_set_sparse_labels(ds, four) == PIXL_ERR_ARG && has("4 classes") && has("5"));
    const char *wrong[5] = {"background", "disc", "square", "triangle", "ring"};
    pixl_label_store *named = pixl_label_store_new(5, wrong);
    CHECK(pixl_dataset_set_sparse_labels(ds, named) == PIXL_ERR_ARG && has("class 2 is 'square'") &&
          has("'rectangle'"));
    pixl_label_store *other = pixl_label_store_new(5, NULL);
    pixl_label_store_add_image(other, "synthetic_000001", 40, 48);
    pixl_label_store_add_image(other, "0001TP_006690", 360, 480);
    pixl_label_store_add_image(other, "synthetic_000004", 40, 48); /* the dataset has 0..3 */
    CHECK(pixl_dataset_set_sparse_labels(ds, other) == PIXL_ERR_NOT_FOUND && has("2 images") &&
          has("'0001TP_006690', 'synthetic_000004'") && has("e.g. 'synthetic_000000'"));
    CHECK(pixl_dataset_sparse_labels(ds) != NULL);
    /* an image of another size: the load names the sample and both sizes */
    pixl_label_store *sized = pixl_label_store_new(5, NULL);
    pixl_label_store_add_image(sized, "synthetic_000002", 20, 24);
    CHECK_OK(pixl_dataset_set_sparse_labels(ds, sized));
    pixl_image *img = NULL;
    int32_t *lab = NULL;
    CHECK(pixl_dataset_load(ds, 2, &img, &lab) == PIXL_ERR_SHAPE && !img && !lab && has("synthetic_000002") &&
          has("height 20, width 24") && has("height 40, width 48"));
    CHECK_OK(pixl_dataset_load(ds, 1, &img, &lab)); /* not in the store: nothing labelled */
    int labelled = 0;
    for (int p = 0; lab && p < 48 * 40; p++) labelled += lab[p] != 255;
    CHECK(labelled == 0);
    pixl_image_free(img), free(lab);
    /* NULL: the full labels again */
    CHECK_OK(pixl_dataset_set_sparse_labels(ds, NULL));
    CHECK_OK(pixl_dataset_load(ds, 1, &img, &lab));
    labelled = 0;
    for (int p = 0; lab && p < 48 * 40; p++) labelled += lab[p] != 255;
    CHECK(labelled == 48 * 40 && pixl_dataset_sparse_labels(ds) == NULL);
    pixl_image_free(img), free(lab);
    pixl_dataset_opts no = {.kind = "synthetic_normals", .count = 2, .width = 16, .height = 16};
    pixl_dataset *normals = pixl_dataset_open(&no);
    pixl_label_store *three = pixl_label_store_new(3, NULL);
    CHECK(pixl_dataset_set_sparse_labels(normals, three) == PIXL_ERR_ARG && has("not a segmentation dataset"));
    pixl_label_store *list[] = {four, named, other, sized, three};
    for (int i = 0; i < 5; i++) pixl_label_store_free(list[i]);
    pixl_dataset_free(normals);
    pixl_dataset_free(ds);
}

/* batches of a dataset with sparse labels against the same batches with its full labels */
static void compare_loaders(const pixl_loader_opts *lo, const char *what, int exact_count)
{
    pixl_dataset *dense = synth(6), *sparse = synth(6);
    pixl_label_store *s = grid_store(dense, 0);
    CHECK_OK(pixl_dataset_set_sparse_labels(sparse, s));
    pixl_loader *Ld = pixl_loader_new(dense, lo), *Ls = pixl_loader_new(sparse, lo);
    CHECK(Ld && Ls);
    int64_t points = 0, labelled = 0, bad = 0, over = 0;
    for (int b = 0; Ld && Ls && b < 12; b++) {
        pixl_batch bd, bs;
        CHECK_OK(pixl_loader_next(Ld, &bd));
        CHECK_OK(pixl_loader_next(Ls, &bs));
        CHECK(bd.n == bs.n && bd.width == bs.width && bd.height == bs.height);
        const size_t np = (size_t)bs.width * bs.height;
        CHECK(!memcmp(bd.images, bs.images, sizeof(float) * 3 * np * bs.n));
        for (int j = 0; j < bs.n; j++) {
            int n = 0;
            for (size_t p = 0; p < np; p++) {
                int32_t v = bs.labels[j * np + p];
                if (v == 255) continue;
                n++;
                bad += v != bd.labels[j * np + p];
            }
            int want = pixl_label_store_count(s, pixl_dataset_sample_name(sparse, bs.indices[j]));
            over += n > want || (exact_count && n != want);
            points += want, labelled += n;
        }
    }
    CHECK_MSG(bad == 0 && over == 0, "%s: %lld labelled pixels off their class, %lld samples with a wrong count", what,
              (long long)bad, (long long)over);
    CHECK(labelled > 0);
    printf("    %s: %lld of %lld points in the batches, all on their class\n", what, (long long)labelled,
           (long long)points);
    pixl_loader_free(Ld), pixl_loader_free(Ls);
    pixl_label_store_free(s);
    pixl_dataset_free(dense), pixl_dataset_free(sparse);
}

PIXL_TEST(label_store_loader_sparse_labels)
{
    pixl_augment_opts crop = {.scale_min = 0.5f, .scale_max = 2.0f, .crop_width = 32, .crop_height = 24, .hflip = 1};
    pixl_loader_opts lo = {.batch_size = 2, .shuffle = 1, .seed = 11, .augment = &crop};
    compare_loaders(&lo, "scale 0.5-2, crop 32x24, flip", 0);
    pixl_augment_opts whole = {.scale_min = 0.5f, .scale_max = 2.0f, .hflip = 1};
    pixl_loader_opts lo2 = {.batch_size = 1, .shuffle = 1, .seed = 12, .augment = &whole, .n_workers = 2};
    compare_loaders(&lo2, "scale 0.5-2, flip, no crop", 1);
    pixl_augment_opts flip = {.hflip = 2};
    pixl_loader_opts lo3 = {.batch_size = 3, .seed = 13, .augment = &flip, .resize_width = 36, .resize_height = 30};
    compare_loaders(&lo3, "resize 36x30, flip per batch", 1);
}

PIXL_TEST(label_store_trainer_config_key)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    const char *kv[] = {"model.arch=enet", "data.dataset=synthetic", "data.img_rows=32", "data.img_cols=32",
                        "data.scale=[0.75, 1.5]", "data.crop=[32, 32]", "data.n_workers=0", "training.batch_size=2",
                        "training.epochs=0", "training.max_iters=1", "validation.every_epochs=0"};
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/run_sparse", pixl_test_tmpdir());
    /* the store of the training split the trainer opens */
    pixl_dataset *train = pixl_config_open_split(cfg, cfg->data.train_split, 0);
    CHECK(train != NULL);
    if (!train) return;
    pixl_label_store *s = pixl_label_store_new(pixl_dataset_n_classes(train), NULL);
    for (int i = 0; i < pixl_dataset_size(train); i++) {
        const char *id = pixl_dataset_sample_name(train, i);
        pixl_label_store_add_image(s, id, 32, 32);
        for (int k = 0; k < 5; k++) pixl_label_store_add(s, id, (7 * k + i) % 32, (11 * k + 3 * i) % 32, (i + k) % 5, 0);
    }
    const char *path = tpath("train_labels.json");
    CHECK_OK(pixl_label_store_save(s, path));
    snprintf(cfg->data.sparse_labels, sizeof cfg->data.sparse_labels, "%s", path);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK_MSG(t != NULL, "%s", pixl_last_error());
    if (t) {
        const pixl_dataset *ds = pixl_trainer_dataset(t, 0);
        CHECK(pixl_label_store_total(pixl_dataset_sparse_labels(ds)) == 5 * pixl_dataset_size(train));
        CHECK(pixl_dataset_sparse_labels(pixl_trainer_dataset(t, 1)) == NULL); /* validation: full labels */
        pixl_image *img;
        int32_t *lab;
        CHECK_OK(pixl_dataset_load(ds, 7, &img, &lab));
        int n = 0;
        for (int p = 0; p < 32 * 32; p++) n += lab[p] != 255;
        CHECK(n == 5);
        pixl_image_free(img), free(lab);
        CHECK_OK(pixl_trainer_step(t));
        CHECK(isfinite(pixl_trainer_loss(t)) && pixl_trainer_loss(t) > 0);
        pixl_trainer_free(t);
    }
    /* a store of other images, or a missing file: errors naming the key and the file */
    pixl_label_store *other = pixl_label_store_new(5, NULL);
    pixl_label_store_add_image(other, "0001TP_006690", 360, 480);
    CHECK_OK(pixl_label_store_save(other, path));
    CHECK(pixl_trainer_new(cfg, &h) == NULL && has("data.sparse_labels") && has("train_labels.json") &&
          has("'0001TP_006690'"));
    snprintf(cfg->data.sparse_labels, sizeof cfg->data.sparse_labels, "%s", tpath("no_such_labels.json"));
    CHECK(pixl_trainer_new(cfg, &h) == NULL && has("no_such_labels.json"));
    CHECK_OK(pixl_config_set(cfg, "data.sparse_labels", "labels/round_3.json"));
    CHECK(!strcmp(cfg->data.sparse_labels, "labels/round_3.json"));
    pixl_label_store_free(other);
    pixl_label_store_free(s);
    pixl_dataset_free(train);
    fclose(devnull);
    free(cfg);
}
