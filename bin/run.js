// Shared by the bins: runs a compiled command from dist/ (npm run build writes it; npm ci and
// npm pack build it), with a one-line hint when the package was never built.
export async function run(command) {
  try {
    await import(`../dist/src/cli/${command}.js`);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('/dist/')) throw err;
    process.stderr.write(`${command}: error: the package is not built; run: npm run build\n`);
    process.exit(1);
  }
}
