/**
 * One table of options drives everything: the YAML file keys, the environment variables, the
 * command-line flags, validation, `--help` and the README's option table. Precedence: flags,
 * then environment, then file, then defaults. Every problem is one line naming the key, the
 * bad value, where it came from and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.ts';
import { ValueError } from './values.ts';


export { ConfigError };

export interface EnvSource {
  name: string;
  /** Parser for this variable when its format differs from the file's (e.g. milliseconds). */
  parse?: (raw: unknown) => unknown;
  /** Turns the parsed value into the option's value (e.g. append `/v1/metrics` to a base URL). */
  map?: (value: unknown) => unknown;
}

export interface OptionSpec {
  /** Dotted key in the YAML file, e.g. `otlp.timeout`. */
  key: string;
  /** Long flag without dashes, e.g. `otlp-timeout`. */
  flag?: string;
  /** A flag that takes no value. */
  boolean?: boolean;
  /** A flag that may be given several times (values are merged). */
  multiple?: boolean;
  /** Environment variables, first set wins. */
  env?: EnvSource[];
  /** Parses a value from the file or a flag. */
  parse: (v: unknown) => unknown;
  default?: unknown;
  /** How the default reads in --help and the README (when it is computed or absent). */
  defaultText?: string;
  /** The value is a section of its own (a mapping), not walked into when reading the file. */
  mapping?: boolean;
  /** Never echoed in errors or logs (API keys). */
  secret?: boolean;
  description: string;
}

export type OptionValues = Map<string, unknown>;

export interface LoadInput {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface Loaded {
  values: OptionValues;
  /** Where each value came from: `--flag`, `ENV_VAR`, `file.yaml` or `default`. */
  sources: Map<string, string>;
  help: boolean;
}

function show(spec: OptionSpec, raw: unknown): string {
  if (spec.secret) return '(hidden)';
  const s = typeof raw === 'string' ? raw : JSON.stringify(raw);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function parseWith(spec: OptionSpec, raw: unknown, source: string, parse = spec.parse): unknown {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`${spec.key}: ${show(spec, raw)} (from ${source}) ${err.message}`);
    throw err;
  }
}

/** Reads the YAML file into dotted keys, rejecting keys the schema does not know. */
export function readConfigFile(path: string, specs: OptionSpec[]): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`cannot parse config file ${path}: ${errorMessage(err).split('\n')[0]}`);
  }
  const out = new Map<string, unknown>();
  if (doc === null || doc === undefined) return out;
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const walk = (obj: unknown, prefix: string): void => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new ConfigError(`config file ${path}: ${prefix === '' ? 'the top level' : prefix} must be a mapping of keys`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (byKey.has(key)) {
        out.set(key, v);
      } else if (specs.some((s) => s.key.startsWith(`${key}.`))) {
        walk(v, key);
      } else {
        const siblings = specs.filter((s) => s.key.startsWith(prefix === '' ? '' : `${prefix}.`)).map((s) => s.key.slice(prefix === '' ? 0 : prefix.length + 1).split('.')[0]);
        throw new ConfigError(`config file ${path}: unknown key ${key}; known keys${prefix === '' ? '' : ` under ${prefix}`}: ${[...new Set(siblings)].join(', ')}`);
      }
    }
  };
  walk(doc, '');
  return out;
}

/** Resolves every option from flags, environment, file and defaults. */
export function loadOptions(specs: OptionSpec[], input: LoadInput): Loaded {
  const flagSpecs = specs.filter((s) => s.flag !== undefined);
  const parseOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of flagSpecs) parseOptions[s.flag!] = { type: s.boolean ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: input.argv, options: parseOptions, strict: true, allowPositionals: false });
  } catch (err) {
    const msg = errorMessage(err).split('\n')[0]!.replace(/^Unknown option '(.*)'.*$/, 'unknown flag $1').replace(/^Option '(.*?)'.* argument missing$/, 'flag $1 needs a value');
    throw new ConfigError(`${msg} (see --help)`);
  }
  const flags = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const help = flags.help === true;
  const file = typeof flags.config === 'string' ? readConfigFile(flags.config, specs) : new Map<string, unknown>();
  const values: OptionValues = new Map();
  const sources = new Map<string, string>();
  for (const spec of specs) {
    const flagValue = spec.flag !== undefined ? flags[spec.flag] : undefined;
    if (flagValue !== undefined) {
      values.set(spec.key, parseWith(spec, flagValue, `--${spec.flag}`));
      sources.set(spec.key, `--${spec.flag}`);
      continue;
    }
    const env = spec.env?.find((e) => input.env[e.name] !== undefined && input.env[e.name] !== '');
    if (env !== undefined) {
      const raw = input.env[env.name]!;
      const v = parseWith(spec, raw, env.name, env.parse ?? spec.parse);
      values.set(spec.key, env.map ? env.map(v) : v);
      sources.set(spec.key, env.name);
      continue;
    }
    if (file.has(spec.key)) {
      values.set(spec.key, parseWith(spec, file.get(spec.key), flags.config as string));
      sources.set(spec.key, flags.config as string);
      continue;
    }
    const d = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
    if (d !== undefined) {
      values.set(spec.key, d);
      sources.set(spec.key, 'default');
    }
  }
  return { values, sources, help };
}

function defaultText(s: OptionSpec): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.default === undefined) return '';
  if (Array.isArray(s.default)) return s.default.join(',');
  return String(s.default);
}

/** `--help` text: usage, then one line per option with its flag, env variables and default. */
export function renderHelp(usage: string, about: string, specs: OptionSpec[]): string {
  const lines = [`Usage: ${usage}`, '', about, '', 'Options (flags win over environment, environment over --config file, file over defaults):'];
  lines.push('  --config FILE                  YAML config file (keys as in config/example.yaml)');
  lines.push('  -h, --help                     show this help');
  for (const s of specs) {
    const flag = s.flag === undefined ? `(file: ${s.key})` : `--${s.flag}${s.boolean ? '' : ' VALUE'}`;
    const meta = [
      `file: ${s.key}`,
      ...(s.env ?? []).map((e) => `env: ${e.name}`),
      ...(defaultText(s) !== '' ? [`default: ${defaultText(s)}`] : []),
    ];
    lines.push(`  ${flag.padEnd(30)} ${s.description}`);
    lines.push(`  ${''.padEnd(30)} [${meta.join('; ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The README's option table for `specs` (kept equal to the README by a test). */
export function renderMarkdownTable(specs: OptionSpec[]): string {
  const rows = specs.map((s) => {
    const flag = s.flag === undefined ? '' : `\`--${s.flag}\``;
    const env = (s.env ?? []).map((e) => `\`${e.name}\``).join(', ');
    const d = defaultText(s);
    return `| \`${s.key}\` | ${flag} | ${env} | ${d === '' ? '' : `\`${d}\``} | ${s.description} |`;
  });
  return ['| file key | flag | environment | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
