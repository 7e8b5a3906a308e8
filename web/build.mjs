// Bundles the browser code into dist/, which the server embeds.
//   node build.mjs          one production build (minified, with source maps)
//   node build.mjs --watch  rebuild on change while developing
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const watch = process.argv.includes('--watch');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
// Static files: the console's HTML/CSS and the demo site.
cpSync(join(root, 'src/console/static'), join(dist, 'console'), { recursive: true });
cpSync(join(root, 'demo'), join(dist, 'demo'), { recursive: true });

// The widget's stylesheet is a string in styles.ts (adopted into its shadow
// root): minified here like the code around it, since esbuild leaves strings alone.
const START = 'export const CSS = /* css */ `';
const minifyWidgetCss = {
  name: 'minify-widget-css',
  setup(build) {
    build.onLoad({ filter: /src[\\/]widget[\\/]styles\.ts$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      const from = source.indexOf(START);
      const to = source.indexOf('`;', from);
      if (watch || from < 0 || to < 0) return { contents: source, loader: 'ts' };
      const css = source.slice(from + START.length, to);
      const { code } = await esbuild.transform(css, { loader: 'css', minify: true });
      return { contents: `${source.slice(0, from)}export const CSS = ${JSON.stringify(code.trim())};${source.slice(to + 2)}`, loader: 'ts' };
    });
  },
};

const common = {
  absWorkingDir: root,
  outdir: dist,
  bundle: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: !watch && !process.env.CHATCAST_NO_MINIFY,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'info',
  plugins: [minifyWidgetCss],
};

// The screen recorder (rrweb record, ~80 KB): a second classic script that
// the widget loads from its own server only when a broadcast starts.
// Language packs: the widget's words in a language other than English, loaded
// only by widgets of a site that chose it.
const onDemand = { ...common, entryPoints: { agent: 'src/agent/index.ts', 'lang/ru': 'src/widget/i18n/ru-pack.ts' } };

const main = (agentHash, langHash) => ({
  ...common,
  entryPoints: {
    // The widget is one classic script that any site can embed: an IIFE, no globals leaked.
    'widget': 'src/widget/index.ts',
    'console/console': 'src/console/main.ts',
    // The screencast window's head start (a few hundred bytes, run before console.js).
    'console/early': 'src/console/early-entry.ts',
  },
  // The widget asks for agent.js?v=HASH: a new widget never runs a cached old recorder.
  define: { CHATCAST_AGENT_HASH: JSON.stringify(agentHash), CHATCAST_LANG_HASH: JSON.stringify(langHash) },
});

if (watch) {
  const agentCtx = await esbuild.context(onDemand);
  await agentCtx.watch();
  const ctx = await esbuild.context(main('dev', 'dev'));
  await ctx.watch();
} else {
  await esbuild.build(onDemand);
  const hashOf = (...files) => {
    const h = createHash('sha256');
    for (const f of files) h.update(readFileSync(join(dist, f)));
    return h.digest('hex').slice(0, 12);
  };
  await esbuild.build(main(hashOf('agent.js'), hashOf('lang/ru.js')));
}
