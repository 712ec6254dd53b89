#!/usr/bin/env bash
# `make check-links` (part of `make lint`): every relative link of README.md and
# docs/*.md must reach an existing file or directory, and a `#fragment` into a Markdown
# file must name one of its headings (GitHub's anchor rule: lower case, punctuation
# dropped, spaces become hyphens; headings with non-ASCII punctuation are not
# supported). Links to other sites (`https:`, `mailto:`…) are not fetched: nothing here
# reaches the network. Code blocks and `code spans` are skipped, so `[a](b)` in an
# example is not a link.
# Usage: scripts/check-links.sh [file.md ...]   (default: README.md docs/*.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

# The anchors of a Markdown file's headings, one a line.
anchors() {
    awk '/^(```|~~~)/ { code = !code; next }
         !code && /^#+ / {
             h = $0; sub(/^#+ +/, "", h); sub(/ +#+ *$/, "", h); h = tolower(h)
             gsub(/[^a-z0-9 _\200-\377-]/, "", h); gsub(/ /, "-", h); print h
         }' "$1"
}

# "line<TAB>target" for every inline link and image of a Markdown file.
links() {
    awk '/^(```|~~~)/ { code = !code; next }
         !code {
             line = $0; gsub(/`[^`]*`/, "", line)
             while (match(line, /\]\([^)]*\)/)) {
                 target = substr(line, RSTART + 2, RLENGTH - 3)
                 sub(/^</, "", target); sub(/>$/, "", target); sub(/ +"[^"]*"$/, "", target)
                 print NR "\t" target
                 line = substr(line, RSTART + RLENGTH)
             }
         }' "$1"
}

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(README.md docs/*.md)
broken=0 checked=0
for file in "${files[@]}"; do
    dir=$(dirname "$file")
    while IFS=$'\t' read -r line target; do
        case "$target" in
            '' | [a-zA-Z]*:*) continue ;;   # empty, or a scheme: https:, mailto:…
        esac
        checked=$((checked + 1))
        path=${target%%#*}
        fragment=
        [[ "$target" == *#* ]] && fragment=${target#*#}
        if [ -z "$path" ]; then
            resolved=$file
        elif [[ "$path" == /* ]]; then
            resolved=.$path
        else
            resolved=$dir/$path
        fi
        if [ ! -e "$resolved" ]; then
            echo "$file:$line: $target: no such file ($resolved)" >&2
            broken=$((broken + 1))
        elif [ -n "$fragment" ] && [[ "$resolved" == *.md ]] && ! anchors "$resolved" | grep -qxF -- "$fragment"; then
            echo "$file:$line: $target: no heading with anchor #$fragment in $resolved" >&2
            broken=$((broken + 1))
        fi
    done < <(links "$file")
done
if [ "$broken" -gt 0 ]; then
    echo "check-links: $broken broken link(s) of $checked" >&2
    exit 1
fi
echo "check-links: $checked relative links in ${#files[@]} files resolve"
