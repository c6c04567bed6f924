#!/usr/bin/env bash
# The production install exactly as docs/operations.md ("Production install") writes it, on a fresh
# clone of the committed HEAD (uncommitted changes are not in it):
#   npm ci && npm run build && npm prune --omit=dev
# then, in that tree without dev dependencies (no tsx, esbuild, TypeScript), with whatever node the
# system has on PATH: `bin/rapport demo --once --contacts 300` exits 0 having scored and written
# back every contact (its SQLite checkpoint thread running from dist/), `rapport score --all` runs its worker threads from dist/, and the card
# preview is served from the bundle built ahead of time. Run by .ci/run; exits non-zero on any miss.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/rapport-production.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "production-check: $*" >&2; exit 1; }

# The system's PATH, not a project's node_modules/.bin (.ci/run puts the dev tree's Node 22 first).
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd: -)"
export PATH
unset RAPPORT_FROM_SOURCE
echo "system node: $(command -v node >/dev/null && node --version || echo none), npm $(npm --version)"

git clone -q "$repo" "$work/rapport"
cd "$work/rapport"
echo "== npm ci ($(git rev-parse --short HEAD))"
npm ci --no-audit --no-fund --loglevel=error
echo "== npm run build"
npm run build --silent
echo "== npm prune --omit=dev"
npm prune --omit=dev --no-audit --no-fund --loglevel=error

for dev in tsx esbuild typescript vitest playwright-core @sparticuz/chromium; do
  [ ! -e "node_modules/$dev" ] || fail "node_modules/$dev is still installed after npm prune --omit=dev (a runtime dependency needs it?)"
done
[ -f dist/cli.js ] || fail "dist/cli.js is missing after npm run build"
[ -f dist/preview/card.js ] || fail "dist/preview/card.js (the card preview bundle) is missing after npm run build"
node22="$work/rapport/node_modules/node/bin/node"
[ -x "$node22" ] || fail "the pinned Node (dependency 'node') is not installed"

mkdir "$work/run"
cd "$work/run"
echo "== bin/rapport demo --once --contacts 300"
start=$(date +%s)
rc=0
"$work/rapport/bin/rapport" demo --once --contacts 300 --db "$work/run/demo.db" >demo.json 2>demo.err || rc=$?
[ "$rc" -eq 0 ] || { tail -n 30 demo.err >&2; fail "demo --once exited $rc"; }
echo "   exit 0 in $(($(date +%s) - start)) s"
# the serving process checkpoints SQLite from a worker thread of dist/ (src/store/checkpoints.ts)
! grep -q "checkpoint thread failed" demo.err || fail "the SQLite checkpoint thread did not run from dist/"
"$node22" -e '
  const s = JSON.parse(require("node:fs").readFileSync("demo.json", "utf8"));
  const c = s.contacts ?? {};
  console.log(`   contacts: ${JSON.stringify(c)}`);
  if (c.scored !== 300 || c.writtenBack !== 300) { console.error("expected 300 contacts scored and written back"); process.exit(1); }
' || fail "demo --once summary"

echo "== rapport score --all (worker threads from dist/)"
RAPPORT_DB="$work/run/demo.db" RAPPORT_CONFIG=/nonexistent/rapport.config.json "$work/rapport/bin/rapport" score --all --json >score.json 2>score.err ||
  { cat score.err >&2; fail "score --all failed"; }
"$node22" -e '
  const r = JSON.parse(require("node:fs").readFileSync("score.json", "utf8"));
  const n = r.reduce((a, p) => a + p.scored, 0);
  console.log(`   scored ${n}`);
  if (n !== 300) process.exit(1);
' || fail "score --all did not score the 300 contacts"

echo "== card preview bundle from dist/"
"$node22" --input-type=module -e '
  const { loadPreviewBundle } = await import(process.argv[1]);
  const js = await loadPreviewBundle();
  if (!js.includes("Rescore now")) { console.error("the served bundle is not the card"); process.exit(1); }
  console.log(`   served ${Math.round(js.length / 1024)} KiB without esbuild`);
' "$work/rapport/dist/server/preview.js" || fail "the built preview does not serve the prebuilt bundle"

echo "production-check: ok"
