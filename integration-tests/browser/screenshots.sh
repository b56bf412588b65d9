#!/usr/bin/env bash
# Regenerates docs/screenshots/: the browser story (integration-tests/tests/web_pages.rs, embedded
# backend, with JavaScript) photographs its main pages at 320 px and 1280 px width on the way.
# Needs what the story needs: `npm ci --prefix integration-tests/browser` and /usr/bin/chromium.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$root/docs/screenshots"
OHJAUS_SCREENSHOTS="$root/docs/screenshots" cargo test -p ohjaus-integration-tests --all-features -j 2 -- \
  --exact web_pages::the_customer_and_the_guide_walk_the_pages::embedded
ls -l "$root/docs/screenshots"
