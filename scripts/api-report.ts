/**
 * The API report: what each entry point of the package (package.json `exports`) offers, read by
 * the TypeScript compiler from its sources, one line per exported name with its kind and its type
 * (members for classes and interfaces), in `api/{entry}.api.md`. `test/architecture/api_report.test.ts`
 * fails when the entry points and the committed report differ, so the public surface changes only
 * on purpose: run `node --import tsx scripts/api-report.ts` and commit the report with the change.
 *
 * The TypeScript compiler's own checker rather than @microsoft/api-extractor: the report needs the
 * names, kinds and types of what is exported, which the checker gives from the sources in a few
 * seconds with no build step and no further dependency; api-extractor works on the emitted
 * declarations (a build first) and adds its own configuration and release tags.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');
export const API_DIR = join(ROOT, 'api');

/** The library entry points: package.json `exports` name → source file. */
export function entryPoints(): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { development: string }> };
  const out = new Map<string, string>();
  for (const [name, entry] of Object.entries(pkg.exports)) {
    // the root re-exports the three others whole (test/architecture/public_surface.test.ts)
    if (typeof entry === 'string' || name === '.') continue;
    out.set(name.slice(2), join(ROOT, entry.development));
  }
  return out;
}

const FORMAT = ts.TypeFormatFlags.NoTruncation;

function kindOf(s: ts.Symbol): string {
  const f = s.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) return 'const';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  return 'other';
}

/** One exported name as report lines: its kind and type, then its public members for a class or an interface. */
function describe(checker: ts.TypeChecker, name: string, symbol: ts.Symbol): string[] {
  const s = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const kind = kindOf(s);
  const decl = s.declarations?.[0];
  if (decl === undefined) return [`- ${kind} \`${name}\``];
  if (kind === 'interface' || kind === 'class') {
    const type = kind === 'class' ? checker.getTypeOfSymbolAtLocation(s, decl) : checker.getDeclaredTypeOfSymbol(s);
    const heritage =
      ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl) ? (decl.heritageClauses ?? []).map((h) => h.getText()).join(' ') : '';
    const lines = [`- ${kind} \`${name}\`${heritage === '' ? '' : ` ${heritage}`}`];
    const instance = kind === 'class' ? checker.getDeclaredTypeOfSymbol(s) : type;
    const members = [
      ...checker.getPropertiesOfType(instance),
      ...(kind === 'class' ? checker.getPropertiesOfType(type).filter((p) => p.name !== 'prototype') : []),
    ];
    const own = new Set<ts.Node>(s.declarations);
    for (const m of members) {
      const md = m.declarations?.[0];
      // its own members only: what it inherits is reported where it is declared
      if (md === undefined || !own.has(md.parent)) continue;
      const mods = ts.canHaveModifiers(md) ? (ts.getModifiers(md) ?? []) : [];
      if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword) || m.name.startsWith('#'))
        continue;
      const isStatic = mods.some((x) => x.kind === ts.SyntaxKind.StaticKeyword);
      // a well-known symbol's member as written (`[Symbol.asyncIterator]`): its internal name
      // (`__@asyncIterator@578`) numbers it by the order the program met its symbols
      const name = m.name.startsWith('__@') ? (ts.getNameOfDeclaration(md)?.getText() ?? m.name) : m.name;
      lines.push(
        `  - ${isStatic ? 'static ' : ''}\`${name}\`: \`${checker.typeToString(checker.getTypeOfSymbolAtLocation(m, md), undefined, FORMAT)}\``,
      );
    }
    return lines;
  }
  if (kind === 'type') {
    const text = ts.isTypeAliasDeclaration(decl)
      ? decl.type.getText().replace(/\s+/g, ' ')
      : checker.typeToString(checker.getDeclaredTypeOfSymbol(s), undefined, FORMAT);
    return [`- type \`${name}\` = \`${text}\``];
  }
  return [`- ${kind} \`${name}\`: \`${checker.typeToString(checker.getTypeOfSymbolAtLocation(s, decl), undefined, FORMAT)}\``];
}

/** The report of every entry point: entry → its text. */
export function apiReports(): Map<string, string> {
  const entries = entryPoints();
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (config === undefined) throw new Error('cannot read tsconfig.json');
  const program = ts.createProgram([...entries.values()], config.options);
  const checker = program.getTypeChecker();
  const out = new Map<string, string>();
  for (const [entry, file] of entries) {
    const source = program.getSourceFile(file);
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`cannot read the exports of ${file}`);
    const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => a.name.localeCompare(b.name));
    const values = exports.filter((e) => {
      const s = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      return (s.flags & ts.SymbolFlags.Value) !== 0;
    }).length;
    const lines = [
      `# API report: \`dynamo-otel-metrics/${entry}\``,
      '',
      `Generated by \`scripts/api-report.ts\` from \`${file.slice(ROOT.length + 1)}\`: ${exports.length} names, ${values} of them values at run time.`,
      '',
      ...exports.flatMap((e) => describe(checker, e.name, e)),
      '',
    ];
    out.set(entry, lines.join('\n'));
  }
  return out;
}

if (process.argv[1] === import.meta.filename) {
  mkdirSync(API_DIR, { recursive: true });
  for (const [entry, text] of apiReports()) writeFileSync(join(API_DIR, `${entry}.api.md`), text);
}
