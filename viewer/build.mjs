// Bundle the viewer (src/) and three.js into one script the app serves: core/xr/static/viewer.js.
//   npm run build --prefix viewer            (or: node viewer/build.mjs [--outfile PATH])
// Pinned versions (package-lock.json) and fixed options make the output byte-for-byte reproducible; a test
// rebuilds it and compares. No CDN is used at run time.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const flag = process.argv.indexOf("--outfile");
const outfile = flag > 0 ? process.argv[flag + 1] : `${here}../core/xr/static/viewer.js`;

await build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "eof",
  charset: "utf8",
  banner: { js: "/* The X-ray workstation's WebXR viewer: built by viewer/build.mjs from viewer/src with three.js (MIT). Do not edit. */" },
  outfile,
  logLevel: "warning",
});
