#!/usr/bin/env bash
# Builds every fuzz harness the way OSS-Fuzz and ClusterFuzzLite expect, so they can run
# them unchanged:  fuzz/build.sh
#
# Honours the ecosystem's variables (defaults make it work here with clang-14 and
# libFuzzer, ASan + UBSan):
#   CC, CXX             compilers                      (clang-14, clang++-14)
#   CFLAGS, CXXFLAGS    sanitizer and coverage flags   (ASan+UBSan, fuzzer-no-link)
#   LIB_FUZZING_ENGINE  the engine to link             (-fsanitize=fuzzer)
#   OUT                 where binaries go              (build-ossfuzz/out)
#   WORK                scratch build directory        (build-ossfuzz/work)
#   ASSENT_FUZZ_KNOWN_BUGS=skip  skip the known bugs instead of reporting them (see
#                       fuzz/README.md; the default reports them, -DASSENT_FUZZ_STRICT)
# and drops beside each binary <harness>.dict, <harness>.options and
# <harness>_seed_corpus.zip (from fuzz/dict/, fuzz/options/ and fuzz/corpus/).
#
# AFL++ (Debian's afl++ package):
#   CC=afl-clang-fast CXX=afl-clang-fast++ LIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a \
#     OUT=build-afl/out WORK=build-afl/work fuzz/build.sh
#
# How: the project's own CMake builds the modules with $CXXFLAGS (ASSENT_FUZZ off: the
# flags come from the caller, not from CMake), then each fuzz/*_fuzz.cc is compiled and
# linked here with $LIB_FUZZING_ENGINE, taking the include and link lines CMake wrote for
# the corpus replay driver of the same harness — so a new module dependency needs no
# change in this script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

: "${CC:=clang-14}"
: "${CXX:=clang++-14}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
if [ -z "${CXXFLAGS:-}" ]; then
  CXXFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined"
  # libFuzzer needs the modules built for coverage; afl-clang-fast instruments by itself.
  case "$LIB_FUZZING_ENGINE" in
    *fuzzer*) CXXFLAGS="$CXXFLAGS -fsanitize=fuzzer-no-link" ;;
  esac
fi
: "${CFLAGS:=$CXXFLAGS}"
: "${OUT:=$ROOT/build-ossfuzz/out}"
: "${WORK:=$ROOT/build-ossfuzz/work}"
JOBS=${JOBS:-$(nproc)}
export CC CXX CFLAGS CXXFLAGS
mkdir -p "$OUT" "$WORK"

echo "fuzz/build.sh: CXX=$CXX CXXFLAGS=$CXXFLAGS LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE OUT=$OUT"
cmake -S "$ROOT" -B "$WORK" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASSENT_FUZZ=OFF \
  -DASSENT_TESTS=OFF -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" >/dev/null

# Known bugs (fuzz/README.md) are reported here, not skipped: OSS-Fuzz is where they are
# tracked. ASSENT_FUZZ_KNOWN_BUGS=skip builds harnesses that skip them, as local runs do.
strict=-DASSENT_FUZZ_STRICT
[ "${ASSENT_FUZZ_KNOWN_BUGS:-}" = "skip" ] && strict=

harnesses=()
for f in fuzz/*_fuzz.cc; do harnesses+=("$(basename "$f" .cc)"); done

# The modules every replay driver links (and nothing else: the drivers' own main is not
# wanted here).
libs=$(sed -n "/^build ${harnesses[0]}_replay:/,/^\$/p" "$WORK/build.ninja" |
       sed -n 's/^ *LINK_LIBRARIES = //p')
lib_targets=$(tr ' ' '\n' <<<"$libs" | sed -n 's/^\(libassent_[a-z_]*\)\.a$/\1.a/p' | sort -u)
# shellcheck disable=SC2086
ninja -C "$WORK" -j "$JOBS" $lib_targets

for h in "${harnesses[@]}"; do
  name=${h%_fuzz}
  block=$(sed -n "/^build CMakeFiles\/${h}_replay.dir\/fuzz\/${h}.cc.o:/,/^\$/p" "$WORK/build.ninja")
  defines=$(sed -n 's/^ *DEFINES = //p' <<<"$block")
  includes=$(sed -n 's/^ *INCLUDES = //p' <<<"$block")
  flags=$(sed -n 's/^ *FLAGS = //p' <<<"$block")
  libs=$(sed -n "/^build ${h}_replay:/,/^\$/p" "$WORK/build.ninja" |
         sed -n 's/^ *LINK_LIBRARIES = //p')
  echo "fuzz/build.sh: $name"
  # shellcheck disable=SC2086
  (cd "$WORK" &&
   $CXX $defines $strict $includes $flags -c "$ROOT/fuzz/$h.cc" -o "$WORK/$h.o" &&
   $CXX $CXXFLAGS "$WORK/$h.o" -o "$OUT/$name" $LIB_FUZZING_ENGINE $libs)
  # The name OSS-Fuzz shows is the binary's: <name>, with <name>.dict etc. beside it.
  [ -f "fuzz/dict/$name.dict" ] && cp "fuzz/dict/$name.dict" "$OUT/$name.dict"
  if [ -f "fuzz/options/$name.options" ]; then
    cp "fuzz/options/$name.options" "$OUT/$name.options"
  else
    printf '[libfuzzer]\ntimeout = 10\n' >"$OUT/$name.options"
  fi
  if [ -f "$OUT/$name.dict" ] && ! grep -q '^dict' "$OUT/$name.options"; then
    sed -i "/^\[libfuzzer\]/a dict = $name.dict" "$OUT/$name.options"
  fi
  rm -f "$OUT/${name}_seed_corpus.zip"
  if [ -d "fuzz/corpus/$name" ]; then
    (cd "fuzz/corpus/$name" && python3 -m zipfile -c "$OUT/${name}_seed_corpus.zip" .)
  fi
done
echo "fuzz/build.sh: built ${#harnesses[@]} harnesses into $OUT"
ls -1 "$OUT"
