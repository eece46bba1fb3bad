# distml — the two commands a user types are `make run` and `make test`; both set up what is missing first.
SHELL := /bin/bash
NODE_GYP := npx --no-install node-gyp
NATIVE_SRC := $(wildcard native/src/*.cc native/src/*.h) native/binding.gyp
NATIVE_OUT := native/build/Release/distml_native.node
TS_SRC := $(shell find src test bench examples -name '*.ts' 2>/dev/null)

.PHONY: setup build native ts run test lint unit bench clean

setup:
	@scripts/setup.sh

build: native ts

ts: dist/.built
dist/.built: $(TS_SRC) tsconfig.json package.json
	@echo "build: compiling TypeScript"
	@npx --no-install tsc -p tsconfig.json
	@chmod +x dist/src/cli/main.js
	@touch $@

native: $(if $(wildcard native/binding.gyp),$(NATIVE_OUT))
$(NATIVE_OUT): $(NATIVE_SRC)
	@echo "build: compiling the libtorch addon"
	@$(NODE_GYP) rebuild -j 2 --directory=native --nodedir=/usr --loglevel=warn

# The book's whole pipeline on the embedded default. On a terminal the servers stay up until Ctrl-C;
# elsewhere (CI, pipes) the run ends after the summary.
# (The terminal test is made in the recipe's own shell: inside $$(...) stdout is a pipe, never a terminal.)
run: setup
	@hold=false; [ -t 1 ] && hold=true; \
	  node dist/src/cli/main.js run examples/book-pipeline.yaml --show summary -p hold=$$hold $(RUN_ARGS)

lint:
	@echo "lint: eslint, prettier, import cycles and module faces, file and function sizes"
	@npx --no-install eslint .
	@npx --no-install prettier --check . --log-level warn
	@node scripts/check-imports.mjs
	@node scripts/size.mjs

# Every test and file runs under a timeout (40 min), the whole run under a deadline (60 min, naming the files still
# running), and a leak check fails the run when a test left a process, a listening port or a temp entry
# (see test/suite/run.ts). `timeout` is the last backstop should the runner itself ever stick.
# TEST_FILES=dist/test/x.test.js runs a subset the same way.
unit:
	@timeout --kill-after=30s 62m node dist/test/suite/run.js $(TEST_FILES)

test: setup
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit

bench: export SETUP_BENCH=1
bench: setup
	@for b in bench/*/main.ts; do node dist/$${b%.ts}.js || exit 1; done

clean:
	rm -rf dist native/build
