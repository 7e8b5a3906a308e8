// The URL rule (src/shared/urlmask.ts) on the cases the server's Rust
// implementation is tested on (crates/chatcast-protocol/src/url_mask_cases.json):
// the browser and the server mask the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = await esbuild.build({
  entryPoints: [join(here, '..', 'src', 'shared', 'urlmask.ts')],
  bundle: true, format: 'esm', write: false, platform: 'neutral', logLevel: 'silent',
});
const { maskUrl } = await import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'));
const cases = JSON.parse(readFileSync(join(here, '..', '..', 'crates', 'chatcast-protocol', 'src', 'url_mask_cases.json'), 'utf8'));

test('the URL rule masks as the server does, and masking twice changes nothing', () => {
  assert.ok(cases.length > 10);
  for (const c of cases) {
    const got = maskUrl(c.url, c.keep ?? []);
    assert.equal(got, c.masked, `maskUrl(${JSON.stringify(c.url)}, ${JSON.stringify(c.keep ?? [])})`);
    assert.equal(maskUrl(got, c.keep ?? []), got);
  }
});
