# kubetee: `make demo` runs the main job, `make test` runs every test.
# Both install what they need first (scripts/install-deps.sh).

JOBS ?= $(shell nproc)
TEST_DIR := build/test
REL_DIR := build/release
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 4

.PHONY: all deps build test demo demo-signer bench fuzz format clean

all: build

deps:
	@bash scripts/install-deps.sh

# Release build: demo, tools, benchmarks.
build: deps
	@cmake -S . -B $(REL_DIR) -DCMAKE_BUILD_TYPE=Release -DKT_TESTS=OFF >/dev/null
	@cmake --build $(REL_DIR) -j $(JOBS)

# Every test, built with AddressSanitizer and UndefinedBehaviorSanitizer, then the
# fuzz targets over their seed corpora for a few seconds each.
test: deps
	@cmake -S . -B $(TEST_DIR) -DCMAKE_BUILD_TYPE=Debug -DKT_SANITIZE=ON -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build $(TEST_DIR) -j $(JOBS)
	cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz

demo: build
	@bash samples/hello/demo.sh $(REL_DIR)
	@echo
	@bash samples/remote/demo.sh $(REL_DIR)
	@echo
	@bash samples/aecs-ta/demo.sh $(REL_DIR)

# hello signed by kubetee-signer with a key in a SoftHSM2 token, run, found in its log
demo-signer: build
	@bash samples/signer/demo.sh $(REL_DIR)

bench: build
	@bash bench/run.sh $(REL_DIR)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DKT_FUZZ=ON -DKT_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)
	@bash fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# Debian packages (libkubetee-dev, kubetee-tools, kubetee-services) into build/deb/debs,
# from a release build for /usr, then lintian (scripts/deb.sh; docs/getting-started.md)
DEB_DIR := build/deb
.PHONY: deb
deb: deps
	@cmake -S . -B $(DEB_DIR) -DCMAKE_BUILD_TYPE=Release -DKT_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
	  -DCMAKE_C_FLAGS="-D_FORTIFY_SOURCE=2 -fstack-protector-strong" -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro,-z,now" >/dev/null
	@cmake --build $(DEB_DIR) -j $(JOBS)
	@rm -rf $(DEB_DIR)/debs
	@bash scripts/deb.sh $(DEB_DIR) $(DEB_DIR)/debs
	@lintian --fail-on error $(DEB_DIR)/debs/*.deb

# the C sources (not kubetee new's templates: their @block@ markers are not C)
format:
	@find include src tools tests fuzz bench samples -name '*.[ch]' -not -path '*/templates/*' | xargs clang-format -i

clean:
	rm -rf build

# Container images (kubetee-runtime, the service images, the hello TA) from make deb's
# packages, built with buildah into this machine's containers-storage and build/images/oci
# (scripts/images.sh; docs/getting-started.md). KT_IMAGES_STORE=DIR: a storage of its own.
.PHONY: images
images: deb
	@bash scripts/images.sh $(DEB_DIR)/debs $(DEB_DIR)/samples/hello build/images
