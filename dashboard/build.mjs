// build.mjs: bundles the dashboard into one self-contained HTML file,
// dist/billy-dashboard.html (scripts, styles and uPlot inline: an MCP App
// host renders it with no network, and the bridge serves it as one file; the
// ext-apps SDK, src/ext-apps.js, rides in it as inert text, run only inside an
// MCP Apps host), and the test host page dist/host.html (ext-apps' AppBridge
// and the MCP client).
// Run by scripts/lib.sh (billy_dashboard); `node build.mjs` by hand.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });

async function bundle(entry) {
    const out = await build({
        entryPoints: [join(here, 'src', entry)], bundle: true, minify: true, format: 'iife',
        target: 'es2020', write: false, legalComments: 'none', logLevel: 'warning',
    });
    // a script inline in HTML must not contain its own end tag
    return out.outputFiles[0].text.replace(/<\/(script)/gi, '<\\/$1');
}

function page(template, css, js, extApps = '') {
    return readFileSync(join(here, 'src', template), 'utf8')
        .replace('/*STYLE*/', () => css)
        .replace('/*EXTAPPS*/', () => extApps)
        .replace('/*SCRIPT*/', () => js);
}

const css = readFileSync(join(here, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8') +
    readFileSync(join(here, 'src/style.css'), 'utf8');
const app = page('index.html', css, await bundle('app.js'), await bundle('ext-apps.js'));
writeFileSync(join(dist, 'billy-dashboard.html'), app);
writeFileSync(join(dist, 'host.html'), page('host.html', '', await bundle('host.js')));
console.log(`dist/billy-dashboard.html ${(app.length / 1024).toFixed(0)} kB`);
