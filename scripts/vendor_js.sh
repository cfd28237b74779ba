#!/usr/bin/env bash
# Vendor the JavaScript/CSS that offline maps inline (geoplan/outputs/vendor/).
#
# The versions are those folium/branca link from their CDNs (see VENDORED in
# geoplan/outputs/offline.py; tests/test_offline.py fails when folium changes them).
# Files come from the npm registry with `npm pack` (no build step); licence files are
# kept next to each package. Run it after upgrading folium, then commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=geoplan/outputs/vendor
PACKAGES=("leaflet@1.9.3" "jquery@3.7.1" "d3@3.5.5")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "${PACKAGES[@]}"; do
  name=${spec%@*}
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$tmp/$name" && tar -xzf "$tmp/$name-${spec#*@}.tgz" -C "$tmp/$name"
  rm -rf "${DEST:?}/$name" && mkdir -p "$DEST/$name"
  cp "$tmp/$name/package/package.json" "$DEST/$name/"
  for lic in LICENSE LICENSE.txt LICENSE.md; do
    [ -f "$tmp/$name/package/$lic" ] && cp "$tmp/$name/package/$lic" "$DEST/$name/"
  done
done
cp "$tmp/leaflet/package/dist/leaflet.js" "$tmp/leaflet/package/dist/leaflet.css" "$DEST/leaflet/"
cp -r "$tmp/leaflet/package/dist/images" "$DEST/leaflet/"
cp "$tmp/jquery/package/dist/jquery.min.js" "$DEST/jquery/"
cp "$tmp/d3/package/d3.min.js" "$DEST/d3/"
echo "vendored: ${PACKAGES[*]} into $DEST"
