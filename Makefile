# Thin entry over scripts/ (which install, configure Meson and build).
.PHONY: all build asan run test fuzz bench clean
all: build
build:
	@bash scripts/build.sh release
asan:
	@bash scripts/build.sh asan
run:
	@bash scripts/run.sh
test:
	@bash scripts/test.sh
fuzz:
	@bash tests/fuzz/run.sh 300
bench:
	@bash bench/run.sh
clean:
	rm -rf build build-asan build-fuzz
