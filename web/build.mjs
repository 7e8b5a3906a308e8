// Bundles the browser code into dist/, which the server embeds.
//   node build.mjs          one production build (minified, with source maps)
//   node build.mjs --watch  rebuild on change while developing
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
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

const options = {
  absWorkingDir: root,
  entryPoints: {
    // The widget is one classic script that any site can embed: an IIFE, no globals leaked.
    'widget': 'src/widget/index.ts',
    'console/console': 'src/console/main.ts',
  },
  outdir: dist,
  bundle: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: !watch,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'info',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
