#!/usr/bin/env bash
# Vendor front-end assets from npm into static/vendor/ so the app never
# loads anything from a CDN.
#
# Usage (from anywhere):  npm run vendor   or   bash scripts/vendor_assets.sh
#
# Versions are pinned exactly in package.json / package-lock.json; to upgrade,
# change the version there, run `npm install`, then re-run this script and
# commit package.json, package-lock.json and static/vendor/ together.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NM="$ROOT/node_modules"
VENDOR="$ROOT/static/vendor"

echo "==> npm ci"
npm ci --no-audit --no-fund

# Start from a clean slate so files dropped upstream do not linger.
# Only the per-library directories this script owns are removed.
for d in bootstrap bootstrap-icons htmx chartjs sortablejs; do
    rm -rf "${VENDOR:?}/$d"
done
mkdir -p "$VENDOR"

# copy SRC DEST_DIR [DEST_NAME]
copy() {
    local src="$1" dest_dir="$2" dest_name="${3:-$(basename "$1")}"
    if [[ ! -f "$src" ]]; then
        echo "ERROR: expected file not found: $src" >&2
        exit 1
    fi
    mkdir -p "$dest_dir"
    cp "$src" "$dest_dir/$dest_name"
    echo "    ${src#"$ROOT"/} -> ${dest_dir#"$ROOT"/}/$dest_name"
}

version() {
    node -p "require('$NM/$1/package.json').version"
}

echo "==> copying assets into static/vendor/"

# Bootstrap (CSS + JS bundle incl. Popper), with source maps
copy "$NM/bootstrap/dist/css/bootstrap.min.css"        "$VENDOR/bootstrap"
copy "$NM/bootstrap/dist/css/bootstrap.min.css.map"    "$VENDOR/bootstrap"
copy "$NM/bootstrap/dist/js/bootstrap.bundle.min.js"     "$VENDOR/bootstrap"
copy "$NM/bootstrap/dist/js/bootstrap.bundle.min.js.map" "$VENDOR/bootstrap"
copy "$NM/bootstrap/LICENSE"                             "$VENDOR/bootstrap"

# Bootstrap Icons (CSS references url("fonts/...") relative to itself)
copy "$NM/bootstrap-icons/font/bootstrap-icons.min.css"      "$VENDOR/bootstrap-icons"
copy "$NM/bootstrap-icons/font/fonts/bootstrap-icons.woff2"  "$VENDOR/bootstrap-icons/fonts"
copy "$NM/bootstrap-icons/font/fonts/bootstrap-icons.woff"   "$VENDOR/bootstrap-icons/fonts"
copy "$NM/bootstrap-icons/LICENSE"                           "$VENDOR/bootstrap-icons"

# htmx 2.x (dist/htmx.min.js ships without a source map reference)
copy "$NM/htmx.org/dist/htmx.min.js" "$VENDOR/htmx"
copy "$NM/htmx.org/LICENSE"          "$VENDOR/htmx"

# Chart.js 4.x UMD build, with source map
copy "$NM/chart.js/dist/chart.umd.min.js"     "$VENDOR/chartjs"
copy "$NM/chart.js/dist/chart.umd.min.js.map" "$VENDOR/chartjs"
copy "$NM/chart.js/LICENSE.md"                "$VENDOR/chartjs" LICENSE

# SortableJS (drag and drop for the kanban board)
copy "$NM/sortablejs/Sortable.min.js" "$VENDOR/sortablejs"
copy "$NM/sortablejs/LICENSE"         "$VENDOR/sortablejs"

echo "==> writing static/vendor/README.md"
cat > "$VENDOR/README.md" <<EOF
# Vendored front-end assets

Third-party CSS/JS/fonts served locally (via Django staticfiles + WhiteNoise)
so the app never loads anything from a CDN. **Do not edit these files by hand.**
They are copied from \`node_modules/\` by \`scripts/vendor_assets.sh\`.

| Directory          | npm package       | Version | Licence | Files |
|--------------------|-------------------|---------|---------|-------|
| \`bootstrap/\`       | bootstrap         | $(version bootstrap) | MIT  | bootstrap.min.css, bootstrap.bundle.min.js (+ .map) |
| \`bootstrap-icons/\` | bootstrap-icons   | $(version bootstrap-icons) | MIT  | bootstrap-icons.min.css, fonts/bootstrap-icons.woff2, fonts/bootstrap-icons.woff |
| \`htmx/\`            | htmx.org          | $(version htmx.org) | 0BSD | htmx.min.js |
| \`chartjs/\`         | chart.js          | $(version chart.js) | MIT  | chart.umd.min.js (+ .map) |
| \`sortablejs/\`      | sortablejs        | $(version sortablejs) | MIT  | Sortable.min.js |

Each directory also contains the package's LICENSE file.
(Bootstrap's JS bundle includes Popper, also MIT.)

## Refreshing / upgrading

1. Change the exact version in \`package.json\` and run \`npm install\`
   (this updates \`package-lock.json\`).
2. Run \`npm run vendor\` (= \`bash scripts/vendor_assets.sh\`). It runs
   \`npm ci\`, copies only the minified files (plus the source maps they
   reference) into this directory, and fails if any minified file refers to a
   source map that was not copied next to it (a missing map breaks
   \`collectstatic\` with WhiteNoise's manifest storage).
3. Commit \`package.json\`, \`package-lock.json\` and \`static/vendor/\` together.

\`node_modules/\` is not committed.
EOF

echo "==> checking source map references"
fail=0
while IFS= read -r -d '' f; do
    case "$f" in *.map) continue ;; esac
    # Matches both  //# sourceMappingURL=x.map  and  /*# sourceMappingURL=x.map */
    while IFS= read -r ref; do
        [[ -z "$ref" ]] && continue
        case "$ref" in data:*) continue ;; esac
        target="$(dirname "$f")/${ref%%[?#]*}"
        if [[ -f "$target" ]]; then
            echo "    ok: ${f#"$VENDOR"/} -> $ref"
        else
            echo "ERROR: ${f#"$ROOT"/} references source map '$ref' which is missing" >&2
            fail=1
        fi
    done < <(grep -aoE 'sourceMappingURL=[^[:space:]*"'"'"']+' "$f" | sed 's/^sourceMappingURL=//' || true)
done < <(find "$VENDOR" -type f -print0)

echo "==> checking url() references in vendored CSS"
while IFS= read -r -d '' f; do
    while IFS= read -r ref; do
        [[ -z "$ref" ]] && continue
        case "$ref" in data:*|http:*|https:*|//*|\#*) continue ;; esac
        target="$(dirname "$f")/${ref%%[?#]*}"
        if [[ -f "$target" ]]; then
            echo "    ok: ${f#"$VENDOR"/} -> ${ref%%[?#]*}"
        else
            echo "ERROR: ${f#"$ROOT"/} references '$ref' which is missing" >&2
            fail=1
        fi
    done < <(grep -aoE 'url\([^)]*\)' "$f" | sed -E 's/^url\(["'"'"']?//; s/["'"'"']?\)$//' || true)
done < <(find "$VENDOR" -type f -name '*.css' -print0)

if [[ "$fail" -ne 0 ]]; then
    echo "FAILED: static/vendor has dangling references (see above)" >&2
    exit 1
fi

echo "==> done. Contents of static/vendor:"
(cd "$VENDOR" && find . -type f | sort | xargs ls -l | awk '{printf "    %8d  %s\n", $5, $9}')
