#!/usr/bin/env bash
# Rebuild .dvc/offline-plots.html: DVC's plots page with Vega, Vega-Lite and vega-embed inline, so
# `dvc plots show` / `dvc plots diff` render with no network. DVC's own page loads them from a CDN
# (its `{scripts}` placeholder, left out here on purpose). Needs npm; the result is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
VEGA=5.33.1 VEGA_LITE=5.23.0 VEGA_EMBED=6.29.0   # Vega-Lite 5 reads the v5 specs DVC writes
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" >/dev/null)
for name in vega vega-lite vega-embed; do
    mkdir -p "$work/$name" && tar xzf "$work/$name"-[0-9]*.tgz -C "$work/$name"
done
out=.dvc/offline-plots.html
{
    printf '<!DOCTYPE html>\n<html>\n<head>\n    {refresh_tag}\n    <meta charset="utf-8">\n    <title>DVC plots</title>\n'
    printf '<!--\nInlined below: vega %s, vega-lite %s, vega-embed %s (npm), each under this licence:\n\n' "$VEGA" "$VEGA_LITE" "$VEGA_EMBED"
    cat "$work/vega-lite/package/LICENSE"
    printf '\n-->\n'
    for name in vega vega-lite vega-embed; do
        printf '<script>\n'
        cat "$work/$name/package/build/$name.min.js"
        printf '\n</script>\n'
    done
    printf '    <style>\n        body { font-family: sans-serif; }\n        table { border-spacing: 15px; }\n    </style>\n'
    printf '</head>\n<body>\n    {plot_divs}\n</body>\n</html>\n'
} > "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
