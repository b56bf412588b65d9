#!/usr/bin/env bash
# Rebuilds the vendored web assets from their pinned npm sources (assets/src/package.json):
# ohjaus.css from ohjaus.scss (GOV.UK Frontend + suomifi-design-tokens) and the licences that
# come with them. Needs Node and npm; `cargo run` does not — the results are committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/src"
npm ci --no-audit --no-fund --ignore-scripts
npx sass --no-source-map --style=compressed --load-path=node_modules ohjaus.scss ../ohjaus.css
mkdir -p ../licences
# govuk-frontend's npm package carries no licence file; its README states MIT, Crown copyright.
{
  echo "govuk-frontend $(node -p 'require("govuk-frontend/package.json").version') (https://github.com/alphagov/govuk-frontend)"
  echo "Licence: MIT. Copyright (c) Crown copyright (Government Digital Service)."
  echo
  sed -n '/^## Licence/,/^## /p' node_modules/govuk-frontend/README.md | sed '$d'
  cat <<'MIT'
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
MIT
} > ../licences/govuk-frontend.txt
cp node_modules/suomifi-design-tokens/LICENSE ../licences/suomifi-design-tokens.txt
# The API reference's viewer (/docs): Scalar's self-contained browser bundle, served by us so the
# page makes no request elsewhere. Taken from its npm package (not a dependency above: the bundle
# needs none of its dependency tree).
SCALAR_VERSION=1.72.1
work="$(mktemp -d)"
(cd "$work" && npm pack --silent "@scalar/api-reference@$SCALAR_VERSION" >/dev/null && tar xzf scalar-api-reference-*.tgz)
cp "$work/package/dist/browser/standalone.js" ../scalar-api-reference.js
{
  echo "@scalar/api-reference $SCALAR_VERSION (https://github.com/scalar/scalar), dist/browser/standalone.js"
  echo "Licence: $(node -p "require('$work/package/package.json').license"). Copyright (c) Scalar."
  echo
  sed -n '/^MIT License/,$p' node_modules/suomifi-design-tokens/LICENSE | sed '1,3d'
} > ../licences/scalar-api-reference.txt
rm -rf "$work"
echo "ohjaus.css: $(wc -c < ../ohjaus.css) bytes; scalar-api-reference.js: $(wc -c < ../scalar-api-reference.js) bytes"
