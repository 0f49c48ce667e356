#!/usr/bin/env bash
# Every C++ file of the project (operators/, pipeline/, tests/, bench/) as
# clang-format-14 writes it with .clang-format; lists the files that are
# not. scripts/test.sh runs it first. Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format-14 -i
set -euo pipefail
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else
  mapfile -t files < <(find operators pipeline tests bench -name '*.cc' -o -name '*.h' | sort)
fi
bad=()
for f in "${files[@]}"; do
  clang-format-14 --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -ne 0 ]; then
  echo "FAIL: ${#bad[@]} of ${#files[@]} C++ files differ from .clang-format (clang-format-14):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix: git ls-files '*.cc' '*.h' | xargs clang-format-14 -i" >&2
  exit 1
fi
echo "format: ${#files[@]} C++ files as clang-format-14 writes them"
