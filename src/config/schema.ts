/**
 * One table of options per command drives everything: the YAML file keys, the environment
 * variables, the command-line flags, validation, `--help`, the option tables in
 * docs/configuration.md and config/example.yaml. Precedence: flags, then environment, then file,
 * then defaults. Every problem is one line naming the key, the bad value, where it came from and
 * what is allowed.
 *
 * A table is an object keyed by the option's dotted file key; the loaded values are typed from
 * each option's parser, so a misspelled key does not compile.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../errors.ts';
import { redactText, registerSecret, registerUrlSecrets } from '../redact.ts';
import { ValueError } from './values.ts';

export { ConfigError };

export interface EnvSource {
  name: string;
  /** Parser for this variable when its format differs from the file's (e.g. milliseconds). */
  parse?: (raw: unknown) => unknown;
  /** Turns the parsed value into the option's value (e.g. append `/v1/metrics` to a base URL). */
  map?: (value: unknown) => unknown;
}

export interface Option<T> {
  /** Long flag without dashes, e.g. `otlp-timeout`. */
  flag?: string | undefined;
  /** A flag that takes no value. */
  boolean?: boolean;
  /** A flag that may be given several times (values are merged). */
  multiple?: boolean;
  /** Environment variables, first set wins. */
  env?: EnvSource[];
  /** Parses a value from the file or a flag. */
  parse: (v: unknown) => T;
  /** The default: a named constant, or a function computing it when the options are loaded. */
  default?: T | (() => T);
  /** No default: loading fails with a one-line error when it is not given. */
  required?: boolean;
  /** How a value reads in `--help`, the docs and the example file. @default String(value) */
  format?: (v: T) => string;
  /** What a computed default is, in words (e.g. `host name`). */
  defaultDescription?: string;
  /** The value is a section of its own (a mapping), not walked into when reading the file. */
  mapping?: boolean;
  /** Never echoed in errors or logs (API keys). */
  secret?: boolean;
  description: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a table mixes options of every value type; each is typed by its parser (OptionValues)
export type OptionTable = Record<string, Option<any>>;

type ValueOf<O> = O extends { parse: (v: unknown) => infer T } ? T : never;

/**
 * The loaded value of every option of `S`, typed by its parser; `undefined` is possible only for
 * an option with neither a default nor `required: true`.
 */
export type OptionValues<S extends OptionTable> = {
  -readonly [K in keyof S]: S[K] extends { default: unknown } | { required: true } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

export interface LoadInput {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

export interface Loaded<S extends OptionTable> {
  values: OptionValues<S>;
  /** Where each value came from: `--flag`, `ENV_VAR`, `file.yaml` or `default`. */
  sources: Record<keyof S, string>;
  help: boolean;
}

type AnyOption = Option<unknown>;

function show(spec: AnyOption, raw: unknown): string {
  if (spec.secret) return '(hidden)';
  const s = redactText(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw)));
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function parseWith(key: string, spec: AnyOption, raw: unknown, source: string, parse: (v: unknown) => unknown = spec.parse): unknown {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(`${key}: ${show(spec, raw)} (from ${source}) ${err.message}`);
    throw err;
  }
}

/** Reads the YAML file into dotted keys, rejecting keys the table does not know. */
export function readConfigFile(path: string, table: OptionTable): Map<string, unknown> {
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
    throw new ConfigError(`cannot parse config file ${path}: ${errorMessage(err)}`);
  }
  const out = new Map<string, unknown>();
  if (doc === null || doc === undefined) return out;
  const keys = Object.keys(table);
  const walk = (obj: unknown, prefix: string): void => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new ConfigError(`config file ${path}: ${prefix === '' ? 'the top level' : prefix} must be a mapping of keys`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (Object.hasOwn(table, key)) {
        out.set(key, v);
      } else if (keys.some((s) => s.startsWith(`${key}.`))) {
        walk(v, key);
      } else {
        const siblings = keys
          .filter((s) => s.startsWith(prefix === '' ? '' : `${prefix}.`))
          .map((s) => s.slice(prefix === '' ? 0 : prefix.length + 1).split('.')[0]);
        throw new ConfigError(
          `config file ${path}: unknown key ${key}; known keys${prefix === '' ? '' : ` under ${prefix}`}: ${[...new Set(siblings)].join(', ')}`,
        );
      }
    }
  };
  walk(doc, '');
  return out;
}

/**
 * `--port -1` as `--port=-1`: parseArgs takes a value that starts with a dash for a flag of its
 * own ("ambiguous"), so a negative number would not reach the option's own check.
 */
function joinNegativeValues(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    // biome-ignore lint/style/noNonNullAssertion: i < argv.length
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a.startsWith('--') && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Resolves every option from flags, environment, file and defaults. */
export function loadOptions<S extends OptionTable>(table: S, input: LoadInput): Loaded<S> {
  const entries = Object.entries(table) as [string, AnyOption][];
  const parseOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [, s] of entries) {
    if (s.flag !== undefined) parseOptions[s.flag] = { type: s.boolean ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(input.argv, parseOptions),
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    // node's words ("Option '-n, --name <value>' argument missing") in ours ("flag --name needs a value")
    const msg = errorMessage(err)
      .replace(/^Unknown option '(.*)'.*$/, 'unknown flag $1')
      .replace(/^Option '(?:-\w, )?(--[^' ]+)[^']*' argument missing$/, 'flag $1 needs a value');
    throw new ConfigError(`${msg} (see --help)`);
  }
  const flags = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const help = flags.help === true;
  const file = typeof flags.config === 'string' ? readConfigFile(flags.config, table) : new Map<string, unknown>();
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const [key, spec] of entries) {
    const flagValue = spec.flag !== undefined ? flags[spec.flag] : undefined;
    if (flagValue !== undefined) {
      values[key] = parseWith(key, spec, flagValue, `--${spec.flag}`);
      sources[key] = `--${spec.flag}`;
      continue;
    }
    const env = spec.env?.find((e) => input.env[e.name] !== undefined && input.env[e.name] !== '');
    if (env !== undefined) {
      const v = parseWith(key, spec, input.env[env.name], env.name, env.parse ?? spec.parse);
      values[key] = env.map ? env.map(v) : v;
      sources[key] = env.name;
      continue;
    }
    if (file.has(key)) {
      values[key] = parseWith(key, spec, file.get(key), flags.config as string);
      sources[key] = flags.config as string;
      continue;
    }
    if (spec.default !== undefined) {
      values[key] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
      sources[key] = 'default';
    } else if (spec.required && !help) {
      const flag = spec.flag !== undefined ? `--${spec.flag}` : key;
      throw new ConfigError(`${flag} is required (or ${key}: in the config file); see --help`);
    }
  }
  for (const [key, spec] of entries) registerSecretsOf(values[key], spec.secret === true);
  return { values: values as OptionValues<S>, sources: sources as Record<keyof S, string>, help };
}

/**
 * Registers for redaction what a loaded value holds that is secret: all of a `secret` option
 * (header values, passwords), and the userinfo of any URL in any option.
 */
function registerSecretsOf(value: unknown, secret: boolean): void {
  if (typeof value === 'string') {
    if (secret) registerSecret(value);
    if (value.includes('@')) registerUrlSecrets(value);
  } else if (Array.isArray(value)) {
    for (const v of value) registerSecretsOf(v, secret);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) registerSecretsOf(v, secret);
  }
}

/** How an option's default reads in `--help`, the docs and the example file ('' for none). */
export function defaultText(spec: AnyOption): string {
  if (spec.defaultDescription !== undefined) return spec.defaultDescription;
  if (spec.default === undefined || typeof spec.default === 'function') return '';
  return formatValue(spec, spec.default);
}

/** A value as the user would write it. */
export function formatValue(spec: AnyOption, v: unknown): string {
  if (spec.format !== undefined) return spec.format(v);
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object' && v !== null)
    return Object.entries(v)
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(',');
  return String(v);
}

/** `--help` text: usage, then one line per option with its flag, env variables and default. */
export function renderHelp(usage: string, about: string, table: OptionTable): string {
  const lines = [
    `Usage: ${usage}`,
    '',
    about,
    '',
    'Options (flags win over environment, environment over --config file, file over defaults):',
  ];
  lines.push('  --config FILE                  YAML config file (keys as in config/example.yaml)');
  lines.push('  -h, --help                     show this help');
  lines.push('  --version                      print the version');
  for (const [key, s] of Object.entries(table) as [string, AnyOption][]) {
    const flag = s.flag === undefined ? `(file: ${key})` : `--${s.flag}${s.boolean ? '' : ' VALUE'}`;
    const d = defaultText(s);
    const meta = [
      `file: ${key}`,
      ...(s.env ?? []).map((e) => `env: ${e.name}`),
      ...(d !== '' ? [`default: ${d}`] : []),
      ...(s.required ? ['required'] : []),
    ];
    lines.push(`  ${flag.padEnd(30)} ${s.description}`);
    lines.push(`  ${''.padEnd(30)} [${meta.join('; ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The Markdown option table of a command (docs/configuration.md). */
export function renderMarkdownTable(table: OptionTable): string {
  const rows = (Object.entries(table) as [string, AnyOption][]).map(([key, s]) => {
    const flag = s.flag === undefined ? '' : `\`--${s.flag}\``;
    const env = (s.env ?? []).map((e) => `\`${e.name}\``).join(', ');
    const d = defaultText(s);
    return `| \`${key}\` | ${flag} | ${env} | ${d === '' ? (s.required ? 'required' : '') : `\`${d}\``} | ${s.description} |`;
  });
  return ['| file key | flag | environment | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
