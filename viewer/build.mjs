// Bundle the app's two viewers into the scripts it serves:
//   - the WebXR viewer (src/) with three.js: core/xr/static/viewer.js;
//   - the image viewer (image/) with cornerstone3D: ui/components/viewer/viewer.js.
//   npm run build --prefix viewer            (or: node viewer/build.mjs [--outdir DIR], writing DIR/xr.js, DIR/image.js)
// Pinned versions (package-lock.json) and fixed options make the output byte-for-byte reproducible; a test
// rebuilds both and compares. No CDN is used at run time.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = flag > 0 ? process.argv[flag + 1] : null;

// The image viewer never loads meshes: vtk.js's XML mesh reader (it needs Node's own modules) is left out.
const noMeshReader = {
  name: "no-vtk-xml-mesh-reader",
  setup(build) {
    build.onResolve({ filter: /IO\/XML\/XMLPolyDataReader(\.js)?$/ }, () => ({
      path: `${here}image/stubs/xml-polydata-reader.js`,
    }));
  },
};

const bundles = [
  {
    entry: `${here}src/main.js`,
    outfile: outdir ? `${outdir}/xr.js` : `${here}../core/xr/static/viewer.js`,
    banner: "/* The X-ray workstation's WebXR viewer: built by viewer/build.mjs from viewer/src with three.js (MIT). Do not edit. */",
  },
  {
    entry: `${here}image/main.js`,
    outfile: outdir ? `${outdir}/image.js` : `${here}../ui/components/viewer/viewer.js`,
    plugins: [noMeshReader],
    banner: "/* The X-ray workstation's image viewer: built by viewer/build.mjs from viewer/image with cornerstone3D (MIT) and vtk.js (BSD-3-Clause). Do not edit. */",
  },
];

for (const bundle of bundles) {
  await build({
    entryPoints: [bundle.entry],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2020",
    legalComments: "eof",
    charset: "utf8",
    banner: { js: bundle.banner },
    outfile: bundle.outfile,
    plugins: bundle.plugins ?? [],
    logLevel: "warning",
  });
}
