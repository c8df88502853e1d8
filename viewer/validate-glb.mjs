// Validate glTF binary files with the Khronos glTF validator; prints one JSON object per file:
// {"file", "errors", "warnings", "infos", "messages": [first 20 issues]}. Exit status 1 if any file has errors.
//   node viewer/validate-glb.mjs scene.glb [more.glb ...]
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

let failed = false;
for (const file of process.argv.slice(2)) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, { maxIssues: 100 });
  const { numErrors, numWarnings, numInfos, messages } = report.issues;
  failed ||= numErrors > 0;
  console.log(JSON.stringify({
    file, errors: numErrors, warnings: numWarnings, infos: numInfos,
    messages: messages.slice(0, 20).map((m) => `${m.code}: ${m.message} (${m.pointer ?? ""})`),
  }));
}
process.exit(failed ? 1 : 0);
