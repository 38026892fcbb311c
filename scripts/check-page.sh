#!/usr/bin/env bash
# Opens the homework page in a real browser (Debian's headless Chromium, installed when
# missing) and fails if any image is missing or does not decode, or any linked file is absent.
#
#   scripts/check-page.sh [PAGE.html] [SCREENSHOT.png]   # default results/index.html, PAGE's folder/page-screenshot.png
#   scripts/check-page.sh --self-test                    # the checker must pass a good page and fail a broken one
#
# How: every relative src/href of the page must name an existing file (and #anchors an id);
# then Chromium loads a copy of the page with a small script added that marks each <img> with
# img.complete && img.naturalWidth > 0, and the DOM it dumps must mark them all; finally a
# full-page screenshot is saved. Nothing is fetched from the network.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-page: $*" >&2; exit 1; }

ensure_chromium() {
  command -v chromium >/dev/null && return
  echo "check-page: installing Debian's chromium" >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

# Percent-decoding of a URL path (the page percent-encodes spaces, # and ?).
urldecode() { local s="${1//+/ }"; printf '%b' "${s//%/\\x}"; }

chromium_run() {
  local profile; profile=$(mktemp -d)
  # Headless Chromium prints harmless D-Bus and GPU notes to stderr: kept out of the way.
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$profile" --allow-file-access-from-files --hide-scrollbars "$@" 2>"$profile.log" || {
      cat "$profile.log" >&2; rm -rf "$profile" "$profile.log"; return 1; }
  rm -rf "$profile" "$profile.log"
}

check_page() {
  local page="$1" shot="$2"
  [ -f "$page" ] || fail "$page: no such page (run ./scripts/homework.sh first)"
  local dir; dir=$(cd "$(dirname "$page")" && pwd)
  local name; name=$(basename "$page")
  local problems=0

  # 1. Every relative link and image names a file that exists; anchors name an id.
  local refs; refs=$(grep -oE '(src|href)="[^"]*"' "$page" | sed -E 's/^(src|href)="//; s/"$//' | sort -u || true)
  local count=0
  while IFS= read -r ref; do
    [ -z "$ref" ] && continue
    count=$((count + 1))
    ref="${ref//&amp;/&}"
    case "$ref" in
      http://*|https://*|//*) echo "check-page: $page refers to the network: $ref (the page must work offline)" >&2; problems=$((problems + 1)) ;;
      data:*|mailto:*) ;;
      \#*) grep -q "id=\"${ref#\#}\"" "$page" || { echo "check-page: anchor $ref has no id on the page" >&2; problems=$((problems + 1)); } ;;
      *)
        local path; path=$(urldecode "${ref%%[?#]*}")
        [ -e "$dir/$path" ] || { echo "check-page: missing file: $ref (from $page)" >&2; problems=$((problems + 1)); } ;;
    esac
  done <<< "$refs"

  # 2. In the browser, every image loads and decodes.
  local probe="$dir/.check-page-$$.html"
  local probe_script='<script>window.addEventListener("load",function(){var im=document.images,bad=0;for(var i=0;i<im.length;i++){var ok=im[i].complete&&im[i].naturalWidth>0;im[i].setAttribute("data-decoded",ok?"yes":"no");if(!ok)bad++;}document.documentElement.setAttribute("data-images",im.length+" images, "+bad+" not decoded");});</script>'
  # After </html> the parser still runs it, in the body: no need to edit the page's markup.
  { cat "$page"; echo "$probe_script"; } > "$probe"
  local dom
  dom=$(chromium_run --virtual-time-budget=15000 --dump-dom "file://$probe") || { rm -f "$probe"; fail "chromium could not open $page"; }
  rm -f "$probe"
  local summary; summary=$(grep -oE 'data-images="[^"]*"' <<< "$dom" | head -1 || true)
  [ -n "$summary" ] || fail "$page: the browser never finished loading the page"
  local images; images=$(grep -oE '<img [^>]*>' <<< "$dom" || true)
  local bad; bad=$(grep 'data-decoded="no"' <<< "$images" | grep -oE 'src="[^"]*"' || true)
  if [ -n "$bad" ]; then
    echo "check-page: images the browser could not show: $(tr '\n' ' ' <<< "$bad")" >&2
    problems=$((problems + $(wc -l <<< "$bad")))
  fi

  # 3. A screenshot of the whole page, as a reader sees it.
  chromium_run --window-size=1280,12000 --screenshot="$shot" "file://$dir/$name" || fail "chromium could not take a screenshot of $page"
  [ -s "$shot" ] || fail "no screenshot written to $shot"

  echo "check-page: $page: $count links and images, ${summary#data-images=}; screenshot $shot" >&2
  [ "$problems" -eq 0 ] || fail "$page: $problems problem(s)"
}

self_test() {
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  # A 2x2 PNG (valid), and a file named .png that is not one.
  base64 -d > "$tmp/good.png" <<< 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=='
  printf 'not a png at all' > "$tmp/broken.png"
  echo "notes" > "$tmp/notes.md"
  local head='<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><h1 id="top">t</h1>'
  echo "$head<img src=\"good.png\" alt=\"g\"><a href=\"notes.md\">n</a><a href=\"#top\">top</a></body></html>" > "$tmp/good.html"
  echo "$head<img src=\"broken.png\" alt=\"b\"></body></html>" > "$tmp/broken-image.html"
  echo "$head<img src=\"good.png\" alt=\"g\"><a href=\"missing.md\">m</a></body></html>" > "$tmp/missing-link.html"
  echo "$head<img src=\"absent.png\" alt=\"a\"></body></html>" > "$tmp/missing-image.html"
  "$0" "$tmp/good.html" "$tmp/good-shot.png" || fail "self-test: a good page failed the check"
  for bad in broken-image missing-link missing-image; do
    if "$0" "$tmp/$bad.html" "$tmp/$bad-shot.png" 2>"$tmp/$bad.log"; then
      cat "$tmp/$bad.log" >&2
      fail "self-test: the page with a $bad passed the check"
    fi
    echo "check-page: self-test: $bad rejected: $(grep -m1 -E 'missing|could not' "$tmp/$bad.log" | sed 's/^check-page: //')" >&2
  done
  echo "check-page: self-test passed" >&2
}

ensure_chromium
if [ "${1:-}" = "--self-test" ]; then
  self_test
  exit 0
fi
page="${1:-results/index.html}"
shot="${2:-$(dirname "$page")/page-screenshot.png}"
check_page "$page" "$shot"
