# pixl — build, test, sanitize, bench.
#   make            library (static + shared, and one archive per layer) and the `pixl` command
#   make test       unit tests, gradient checks, PyTorch parity, golden conformance
#   make sanitize   the same test suite built with ASan + UBSan
#   make bench      op benchmarks against PyTorch (not part of the tests)
#   make bench-models  model-zoo latency against PyTorch into docs/models.md (MODELS=a,b for a subset)
#   make check-annotate  `pixl annotate` driven in headless Chromium (not part of the tests)
#   make check-kill9     a training killed with SIGKILL 20 times and resumed (docs/reliability.md; a few minutes)
#   make check-fulldisk  a training whose checkpoint writes fail under a file-size limit (docs/reliability.md)
#   make fuzz       libFuzzer harnesses (fuzz/) with clang, ASan and UBSan into build-fuzz/
#   make fuzz-run SECONDS=N  each harness N seconds on a copy of its seed corpus (docs/reliability.md)
# Variables: BUILD (output dir), BLAS (openblas|blis|generic cblas), ARCH.

BUILD   ?= build
ARCH    ?= -march=native
OPT     ?= -O3
CC      ?= cc
BLAS    ?= openblas
SHARED  ?= ../shared

ifeq ($(BLAS),openblas)
  BLAS_CFLAGS := -DPIXL_OPENBLAS $(shell pkg-config --cflags openblas 2>/dev/null)
  BLAS_LIBS   := -lopenblas
else ifeq ($(BLAS),blis)
  BLAS_CFLAGS := -I/usr/include/blis
  BLAS_LIBS   := -lblis
else
  BLAS_CFLAGS :=
  BLAS_LIBS   := -lcblas
endif

WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wno-sign-compare
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) -g -fPIC -fopenmp $(WARN) $(BLAS_CFLAGS) \
           -Iinclude -Isrc -Itools $(shell pkg-config --cflags libcjson matio libmicrohttpd 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS  += $(BLAS_LIBS) -lcjson -lm -fopenmp -lyaml $(EXTRA_LDLIBS) -lpng -ljpeg -lpthread -lmatio
# the `pixl` command and the tests also serve HTTP (pixl annotate): libmicrohttpd, not a library dependency
HTTP_LIBS := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)
# what a program on the core and models layers alone links (no yaml, png, jpeg, matio)
CORE_LDLIBS := $(BLAS_LIBS) -lcjson -lm -fopenmp $(EXTRA_LDLIBS)

LIB_SRC   := $(sort $(wildcard src/*/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c tools/check/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
# fuzz harnesses: linked into the tests too (tests/test_fuzz.c replays their corpora)
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c)) fuzz/common.c
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
# the layers (README.md, "The library"): each its header and its archive
layer_obj  = $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard $(addsuffix /*.c,$(1)))))
CORE_OBJ    := $(call layer_obj,src/core src/ops src/kernels src/io src/nn src/optim)
MODELS_OBJ  := $(call layer_obj,src/models)
DATA_OBJ    := $(call layer_obj,src/data)
METRICS_OBJ := $(call layer_obj,src/metrics)
TRAIN_OBJ   := $(call layer_obj,src/config src/train src/tasks src/report src/active)
LAYERS      := core models data metrics train
LAYER_LIBS  := $(LAYERS:%=$(BUILD)/libpixl_%.a)
LAYER_OBJ   := $(CORE_OBJ) $(MODELS_OBJ) $(DATA_OBJ) $(METRICS_OBJ) $(TRAIN_OBJ)
$(if $(filter-out $(LAYER_OBJ),$(LIB_OBJ)),$(error source files in no layer (Makefile, CORE_OBJ ...): $(filter-out $(LAYER_OBJ),$(LIB_OBJ))))
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
FUZZ_OBJ  := $(FUZZ_SRC:%.c=$(BUILD)/%.o)
DEPS      := $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)

.PHONY: all lib test unit check-golden check-annotate check-kill9 check-fulldisk sanitize bench bench-models clean print-ldlibs examples fuzz fuzz-bins fuzz-run fuzz-corpus
all: $(BUILD)/libpixl.a $(BUILD)/libpixl.so $(LAYER_LIBS) $(BUILD)/pixl
	@if [ "$(BUILD)" = build ]; then ln -sf $(BUILD)/pixl pixl; fi  # ./pixl: the optimised build only (not make sanitize's)

lib: $(BUILD)/libpixl.a $(BUILD)/libpixl.so $(LAYER_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpixl.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libpixl_core.a: $(CORE_OBJ)
$(BUILD)/libpixl_models.a: $(MODELS_OBJ)
$(BUILD)/libpixl_data.a: $(DATA_OBJ)
$(BUILD)/libpixl_metrics.a: $(METRICS_OBJ)
$(BUILD)/libpixl_train.a: $(TRAIN_OBJ)
$(LAYER_LIBS):
	@rm -f $@
	ar rcs $@ $^

# every layer; only the public pixl_ symbols are exported (src/pixl.map)
$(BUILD)/libpixl.so: $(LIB_OBJ) src/pixl.map
	$(CC) -shared -o $@ $(LIB_OBJ) -Wl,--version-script=src/pixl.map $(LDFLAGS) $(LDLIBS)

$(BUILD)/pixl: $(TOOL_OBJ) $(BUILD)/libpixl.a
	$(CC) -o $@ $(TOOL_OBJ) $(BUILD)/libpixl.a $(LDFLAGS) $(LDLIBS) $(HTTP_LIBS)

# tests link the tool objects too (the check runner is tested directly)
$(BUILD)/pixl_tests: $(TEST_OBJ) $(FUZZ_OBJ) $(filter-out $(BUILD)/tools/pixl.o,$(TOOL_OBJ)) $(BUILD)/libpixl.a
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS) $(HTTP_LIBS)

# examples/: small programs on the public API alone
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(sort $(wildcard examples/*.c)))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libpixl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpixl.a $(LDFLAGS) $(LDLIBS)
# inference links the models and core layers only: no yaml, png, jpeg or matio
$(BUILD)/examples/infer: examples/infer.c $(BUILD)/libpixl_models.a $(BUILD)/libpixl_core.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpixl_models.a $(BUILD)/libpixl_core.a $(LDFLAGS) $(CORE_LDLIBS)

# pixl's own reference cases (scripts/ref/make_*_ref.py), run by the conformance runner
REF_CASES := tests/ref/conv tests/ref/elem tests/ref/loss tests/ref/pool tests/ref/pac tests/ref/paccrf tests/ref/jointup tests/ref/pixelnet tests/ref/pag tests/ref/detection

# The test command: unit tests + golden conformance (skipped when ../shared is absent).
test: all $(BUILD)/pixl_tests examples
	PIXL_NUM_THREADS=2 $(BUILD)/pixl_tests
	PIXL_NUM_THREADS=2 $(BUILD)/examples/train_steps $(BUILD)/examples-run
	PIXL_NUM_THREADS=2 $(BUILD)/examples/infer
	@if [ -d $(SHARED)/golden/torch ]; then PIXL_NUM_THREADS=2 $(BUILD)/pixl check $(SHARED)/golden/torch; \
	 else echo "skip: $(SHARED)/golden/torch not found"; fi
	@if [ -d $(SHARED)/golden/pac ]; then PIXL_NUM_THREADS=2 $(BUILD)/pixl check $(SHARED)/golden/pac; \
	 else echo "skip: $(SHARED)/golden/pac not found"; fi
	@if [ -d $(SHARED)/golden/torchvision ]; then PIXL_NUM_THREADS=2 $(BUILD)/pixl check $(SHARED)/golden/torchvision; \
	 else echo "skip: $(SHARED)/golden/torchvision not found"; fi
	PIXL_NUM_THREADS=2 $(BUILD)/pixl check $(REF_CASES)

unit: $(BUILD)/pixl_tests
	PIXL_NUM_THREADS=2 $(BUILD)/pixl_tests $(T)

# tools/convert_pth.py on a torchvision ResNet-18 state_dict (needs python3-torch and python3-torchvision)
check-convert: $(BUILD)/pixl_tests
	/usr/bin/python3 scripts/ref/make_convert_ref.py --torchvision $(BUILD)/convert
	PIXL_CONVERT_DIR=$(BUILD)/convert PIXL_NUM_THREADS=2 $(BUILD)/pixl_tests zoo_convert

# `pixl annotate` in headless Chromium: key presses, the files after each one, kill -9 and resume;
# screenshots into docs/img/annotate_*.png. Needs chromium, chromium-driver and python3-selenium
# (PIXL_WITH_BROWSER=1 scripts/install-deps.sh), so it is not part of `make test`.
check-annotate: all
	/usr/bin/python3 scripts/check_annotate_chromium.py --pixl $(BUILD)/pixl

# crash safety (docs/reliability.md): scripts/check/kill9.sh and fulldisk.sh; tests/test_crash.c is their short form in `make test`
check-kill9: all
	scripts/check/kill9.sh --pixl $(BUILD)/pixl --kills 20

check-fulldisk: all
	scripts/check/fulldisk.sh --pixl $(BUILD)/pixl

sanitize:
	$(MAKE) BUILD=build-san OPT=-O1 EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    EXTRA_LDLIBS="-fsanitize=address,undefined" test

# Fuzzing (docs/reliability.md): every harness fuzz/fuzz_<name>.c as a libFuzzer program
# $(FUZZ_BUILD)/fuzz/fuzz_<name>, pixl built with clang, ASan + UBSan and fuzzer coverage.
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh).
FUZZ_BUILD ?= build-fuzz
FUZZ_CC    ?= clang
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
SECONDS    ?= 30
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 ARCH= \
	    EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION" \
	    EXTRA_LDLIBS="$(FUZZ_SAN)" fuzz-bins

FUZZ_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
fuzz-bins: $(FUZZ_BINS)

$(BUILD)/fuzz/%.main.o: fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPIXL_FUZZ_MAIN -MMD -MP -c $< -o $@

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.main.o $(BUILD)/fuzz/common.o $(filter-out $(BUILD)/tools/pixl.o,$(TOOL_OBJ)) $(BUILD)/libpixl.a
	$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS) $(LDLIBS) $(HTTP_LIBS)

-include $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%.main.d)

# the seed corpus fuzz/corpus/<harness>/ (kept in the repository), written by pixl itself
fuzz-corpus: $(BUILD)/libpixl.a
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(CFLAGS) -o $(BUILD)/fuzz/make_corpus fuzz/make_corpus.c $(BUILD)/libpixl.a $(LDFLAGS) $(LDLIBS)
	$(BUILD)/fuzz/make_corpus fuzz/corpus

# each harness SECONDS seconds (one after the other); fails on any crash, leak or sanitizer report
fuzz-run: fuzz
	sh scripts/fuzz-run.sh $(FUZZ_BUILD) $(SECONDS)

bench: all
	$(BUILD)/pixl bench ops

# model-zoo latency (pixl and PyTorch, batch 1, 360x480, 2 threads) into docs/models.md; slow (many minutes)
bench-models: all
	/usr/bin/python3 scripts/bench/models_md.py --pixl $(BUILD)/pixl --threads 2 $(if $(MODELS),--models $(MODELS))

clean:
	rm -rf build build-* pixl

-include $(DEPS)

# Development while op families land in parallel: link only the named test and
# check-builder files, ignoring symbols of families not written yet.
#   make BUILD=build-conv partial TESTS="tests/test_conv.c" CHECKS="tools/check/torch_conv.c"
PARTIAL_TEST_OBJ  := $(patsubst %.c,$(BUILD)/%.o,tests/test_main.c tests/gradcheck.c tools/cmd_check.c $(TESTS) $(CHECKS))
PARTIAL_CHECK_OBJ := $(patsubst %.c,$(BUILD)/%.o,tools/cmd_check.c tools/dev/check_main.c $(CHECKS))
partial: $(BUILD)/libpixl.a $(PARTIAL_TEST_OBJ) $(PARTIAL_CHECK_OBJ)
	$(CC) -o $(BUILD)/tests_partial $(PARTIAL_TEST_OBJ) $(BUILD)/libpixl.a -Wl,--unresolved-symbols=ignore-all $(LDLIBS)
	$(CC) -o $(BUILD)/check_partial $(PARTIAL_CHECK_OBJ) $(BUILD)/libpixl.a -Wl,--unresolved-symbols=ignore-all $(LDLIBS)

# the link flags, for scripts that build small programs against build/libpixl.a
print-ldlibs:
	@echo $(LDLIBS)
