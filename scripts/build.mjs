// `npm run build` (after `tsc --noEmit` has typechecked): src/cli.ts and everything it imports,
// node-vault, pino and prom-client included, bundled into dist/cli.js, the package's bin.
// Why: the sidecar runs beside every Vault pod, so its memory and start-up are paid per pod, and
// one file parsed once costs less than ~40 compiled modules plus ~150 dependency files resolved
// one by one. The plugin below keeps out what the program never runs: prom-client's index (only
// its metric classes are taken), axios (node-vault is given our own transport, so it never calls
// it), node-vault's convenience commands and mustache (SPEC §8: only its generic request), debug,
// pino's transports (thread-stream, worker_threads), sonic-boom's assert, https until an https
// address uses it, and the ES-import of builtins that loads undici on Node 24; each stand-in in
// scripts/bundle/ says why. Whitespace and syntax are
// minified (names are kept; dist/*.map maps back to src/ for `node --enable-source-maps`).
// Peak RSS of the sidecar loop, Node 20: 70-71 MiB as tsc output, 57 MiB bundled (README, Benchmarks).
// The cloud SDKs stay external and are still imported on demand (src/store/index.ts): with
// code splitting each store lands in its own chunk beside cli.js and loads only when chosen, so
// the installed node_modules holds the SDKs as before. So do the commands other than run
// (src/main.ts imports each when chosen), Kubernetes Events and the snapshot targets' SDKs.
// dist/cli.js itself is a few lines (src/cli.ts: the compile cache on, then main.ts).
// Plain JavaScript: runs before any build.
import { rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Packages replaced inside the bundle by the module that says why (only the bare name; subpaths resolve as usual). */
const REPLACED = {
  'prom-client': fileURLToPath(new URL('./bundle/prom-client.mjs', import.meta.url)),
  axios: fileURLToPath(new URL('./bundle/axios.cjs', import.meta.url)),
  debug: fileURLToPath(new URL('./bundle/debug.cjs', import.meta.url)),
  'thread-stream': fileURLToPath(new URL('./bundle/thread-stream.cjs', import.meta.url)),
  mustache: fileURLToPath(new URL('./bundle/no-commands.cjs', import.meta.url)),
};

/** Built-in modules that one package requires at load and barely uses: replaced for that package only. */
const BUILTINS_REPLACED = [
  {
    importer: /node_modules\/pino\//,
    builtin: 'worker_threads',
    path: fileURLToPath(new URL('./bundle/main-thread.cjs', import.meta.url)),
  },
  {
    importer: /node_modules\/node-vault\//,
    builtin: 'https',
    path: fileURLToPath(new URL('./bundle/https-on-use.cjs', import.meta.url)),
  },
  {
    importer: /node_modules\/sonic-boom\//,
    builtin: 'assert',
    path: fileURLToPath(new URL('./bundle/assert.cjs', import.meta.url)),
  },
];

// dist/cli.js sits one level below the package root, as src/cli.ts does below the repository
// root, so `new URL('../policies/', import.meta.url)` (src/policy.ts) still finds policies/.
await rm(`${ROOT}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.10',
  external: ['@aws-sdk/*', '@google-cloud/*', 'google-gax'],
  // The bundled CommonJS packages call require() for Node's built-in modules; an ES module has
  // no require of its own, so give the bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  plugins: [
    {
      name: 'only-what-the-program-runs',
      setup(builder) {
        builder.onResolve({ filter: /^(prom-client|axios|debug|thread-stream|mustache)$/ }, ({ path }) => ({
          path: REPLACED[path],
        }));
        builder.onResolve({ filter: /^\.\/commands\.js$/ }, ({ importer }) =>
          /node_modules\/node-vault\//.test(importer) ? { path: REPLACED.mustache } : undefined,
        );
        builder.onResolve({ filter: /^(worker_threads|https|assert)$/ }, ({ path, importer }) => {
          const replaced = BUILTINS_REPLACED.find((entry) => entry.builtin === path && entry.importer.test(importer));
          return replaced ? { path: replaced.path } : undefined;
        });
        // src/ imports Node's built-in modules as ES modules. On Node 24, importing node:http that
        // way copies every export into the module namespace, getters included, and its lazy
        // WebSocket/EventSource getters load the whole built-in undici (~26 ms of start-up).
        // require() returns the exports object without touching them: the bundle requires builtins.
        builder.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, ({ path, kind }) =>
          kind === 'import-statement' && isBuiltin(path) ? { path, namespace: 'builtin-required' } : undefined,
        );
        builder.onLoad({ filter: /.*/, namespace: 'builtin-required' }, ({ path }) => ({
          contents: `module.exports = require(${JSON.stringify(path.startsWith('node:') ? path : `node:${path}`)});`,
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
});
