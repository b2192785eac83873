#!/bin/sh
# Turns a file into a C string constant: embed.sh NAME INPUT OUTPUT.
# Used by the build to serve docs/openapi/*.json from the binary.
set -eu
name=$1 in=$2 out=$3
{
  echo "/* Generated from $(basename "$in") by scripts/embed.sh; do not edit. */"
  echo "const char $name[] = {"
  od -An -v -tx1 "$in" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
  echo "0x00 };"
} > "$out"
