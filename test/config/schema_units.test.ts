/**
 * The option-table machinery on a small table of its own (pure but for temp YAML files): every
 * source and its precedence, where each value came from, every one-line error word for word,
 * values shown shortened and redacted (a secret never), negative numbers as flag values, and the
 * `--help` and Markdown renderings exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  defaultText,
  formatValue,
  loadOptions,
  readConfigFile,
  renderHelp,
  renderMarkdownTable,
  type OptionTable,
} from '../../src/config/schema.ts';
import { ValueError } from '../../src/config/values.ts';
import { redactText } from '../../src/redact.ts';
import { tempDir } from '../support/process.ts';

function int(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n)) throw new ValueError('must be an integer');
  return n;
}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new ValueError('must be a string');
  return v;
}

const TABLE = {
  'server.port': {
    flag: 'port',
    env: [{ name: 'APP_PORT' }, { name: 'LEGACY_PORT', parse: (v: unknown) => int(v) * 10, map: (v: unknown) => (v as number) + 1 }],
    parse: int,
    default: 80,
    description: 'port to listen on',
  },
  'server.host': { flag: 'host', parse: str, default: () => 'computed', defaultDescription: 'host name', description: 'host' },
  name: { flag: 'name', parse: str, required: true, description: 'the name' },
  verbose: { flag: 'verbose', boolean: true, parse: (v: unknown) => v === true || v === 'true', default: false, description: 'talk more' },
  tags: {
    flag: 'tag',
    multiple: true,
    parse: (v: unknown) => (Array.isArray(v) ? v.map(String) : String(v).split(',')),
    default: ['a', 'b'],
    description: 'tags',
  },
  labels: {
    parse: (v: unknown) => v as Record<string, string>,
    default: { x: '1', y: '2' },
    mapping: true,
    description: 'labels (file only)',
  },
  token: { flag: 'token', parse: str, secret: true, description: 'an API token' },
  ratio: { flag: 'ratio', parse: int, format: (v: unknown) => `${v as number}%`, default: 5, description: 'a ratio' },
  optional: { flag: 'optional', parse: str, description: 'no default, not required' },
} satisfies OptionTable;

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadOptions(TABLE, { argv, env });

function yaml(text: string): string {
  const p = join(tempDir('schema-'), 'c.yaml');
  writeFileSync(p, text);
  return p;
}

test('flags win over environment, environment over the file, the file over defaults; sources say which', () => {
  const file = yaml('server:\n  port: 3\n  host: filehost\nname: fromfile\nratio: 7\n');
  const a = load(['--config', file, '--port', '1'], { APP_PORT: '2' });
  assert.deepEqual([a.values['server.port'], a.sources['server.port']], [1, '--port']);
  const b = load(['--config', file], { APP_PORT: '2' });
  assert.deepEqual([b.values['server.port'], b.sources['server.port']], [2, 'APP_PORT']);
  const c = load(['--config', file], {});
  assert.deepEqual([c.values['server.port'], c.sources['server.port']], [3, file]);
  assert.deepEqual([c.values['server.host'], c.values.name, c.values.ratio], ['filehost', 'fromfile', 7]);
  const d = load(['--name', 'n'], {});
  assert.deepEqual([d.values['server.port'], d.sources['server.port']], [80, 'default']);
  assert.equal(d.values['server.host'], 'computed', 'a default function is called');
  assert.deepEqual(d.values.tags, ['a', 'b']);
  assert.equal(d.values.optional, undefined);
  assert.equal(d.sources.optional, undefined);
  assert.equal(d.values.verbose, false);
  assert.equal(d.help, false);
});

test('environment: the first variable set and non-empty wins; its own parser and map apply', () => {
  assert.equal(
    load(['--name', 'n'], { APP_PORT: '', LEGACY_PORT: '4' }).values['server.port'],
    41,
    'empty APP_PORT is unset; LEGACY_PORT parsed ×10 then mapped +1',
  );
  const l = load(['--name', 'n'], { LEGACY_PORT: '4' });
  assert.equal(l.sources['server.port'], 'LEGACY_PORT');
  assert.equal(load(['--name', 'n'], { APP_PORT: '9', LEGACY_PORT: '4' }).values['server.port'], 9);
});

test('flags: booleans, repeated values, negative numbers, --help', () => {
  const v = load(['--name', 'n', '--verbose', '--tag', 'x', '--tag', 'y,z', '--port', '-5', '--ratio=-2']);
  assert.equal(v.values.verbose, true);
  assert.deepEqual(v.values.tags, ['x', 'y,z']);
  assert.equal(v.values['server.port'], -5, '--port -5 is a value, not a flag');
  assert.equal(v.values.ratio, -2);
  const h = load(['--help']);
  assert.equal(h.help, true);
  assert.equal(h.values.name, undefined, 'a required option may be missing with --help');
  assert.equal(load(['-h']).help, true);
});

test('every error is one line that says what is wrong', () => {
  const err = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
    try {
      load(argv, env);
    } catch (e) {
      assert.ok(e instanceof ConfigError, `a ConfigError for ${argv.join(' ')}`);
      assert.ok(!(e as Error).message.includes('\n'), 'one line');
      return (e as Error).message;
    }
    return assert.fail(`no error for ${argv.join(' ')}`);
  };
  assert.equal(err([]), '--name is required (or name: in the config file); see --help');
  assert.equal(err(['--nope']), 'unknown flag --nope (see --help)');
  assert.equal(err(['--name']), 'flag --name needs a value (see --help)');
  assert.equal(err(['--name', 'n', '--config']), 'flag --config needs a value (see --help)');
  assert.equal(err(['--name', 'n', '-x']), 'unknown flag -x (see --help)');
  assert.equal(err(['--name', 'n', '--port', 'x']), 'server.port: "x" (from --port) must be an integer');
  assert.equal(err(['--name', 'n'], { APP_PORT: 'y' }), 'server.port: "y" (from APP_PORT) must be an integer');
  assert.equal(err(['--name', 'n', '--port', 'x'.repeat(100)]), `server.port: "${'x'.repeat(77)}..." (from --port) must be an integer`);
  assert.equal(
    err(['--name', 'n', '--port', 'x'.repeat(80)]),
    `server.port: "${'x'.repeat(80)}" (from --port) must be an integer`,
    '80 shown whole',
  );
  assert.equal(err(['--name', 'n', '--verbose', '-5']), 'unknown flag -5 (see --help)', 'a boolean flag takes no negative number');
  assert.equal(
    (() => {
      try {
        loadOptions({ must: { parse: str, required: true, description: 'file only' } }, { argv: [], env: {} });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    'must is required (or must: in the config file); see --help',
    'an option without a flag is named by its key',
  );
  assert.equal(err(['--name', 'n', '--port', 'https://user:hunter2@example.com/']).includes('hunter2'), false, 'userinfo redacted');
  const file = yaml('token: 5\n');
  assert.equal(err(['--name', 'n', '--config', file]), `token: (hidden) (from ${file}) must be a string`, 'a secret is never shown');
  assert.equal(err(['--name', 'n', '--config', yaml('ratio: [1, 2]\n')]).endsWith('must be an integer'), true);
  assert.match(err(['--name', 'n', '--config', '/nonexistent/c.yaml']), /^cannot read config file \/nonexistent\/c\.yaml: ENOENT$/);
  assert.match(err(['--name', 'n', '--config', yaml('a: [\n')]), /^cannot parse config file .*c\.yaml: /);
});

test('the config file: nested keys, unknown keys named with their known siblings, mappings kept whole', () => {
  const m = readConfigFile(yaml('server:\n  port: 1\nlabels:\n  any: thing\n  other: 2\n'), TABLE);
  assert.deepEqual(
    [...m],
    [
      ['server.port', 1],
      ['labels', { any: 'thing', other: 2 }],
    ],
  );
  assert.deepEqual([...readConfigFile(yaml(''), TABLE)], [], 'an empty file sets nothing');
  assert.deepEqual([...readConfigFile(yaml('null\n'), TABLE)], [], 'nor does a file that says null');
  assert.deepEqual([...readConfigFile(yaml('# only a comment\n'), TABLE)], []);
  const bad = (text: string): string => {
    try {
      readConfigFile(yaml(text), TABLE);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return (e as Error).message.replace(/^config file \S+: /, '');
    }
    return assert.fail(text);
  };
  assert.equal(bad('server:\n  prt: 1\n'), 'unknown key server.prt; known keys under server: port, host');
  assert.equal(bad('nope: 1\n'), 'unknown key nope; known keys: server, name, verbose, tags, labels, token, ratio, optional');
  assert.equal(bad('- 1\n'), 'the top level must be a mapping of keys');
  assert.equal(bad('server: 5\n'), 'server must be a mapping of keys');
  assert.equal(bad('server: [1]\n'), 'server must be a mapping of keys');
});

test('defaults and values read as the user writes them', () => {
  assert.equal(defaultText(TABLE['server.port']), '80');
  assert.equal(defaultText(TABLE['server.host']), 'host name');
  assert.equal(defaultText({ parse: str, default: () => 'x', description: '' }), '', 'a computed default without words shows nothing');
  assert.equal(defaultText(TABLE.name), '');
  assert.equal(defaultText(TABLE.tags), 'a,b');
  assert.equal(defaultText(TABLE.labels), 'x=1,y=2');
  assert.equal(defaultText(TABLE.ratio), '5%');
  assert.equal(formatValue(TABLE.verbose, false), 'false');
  assert.equal(formatValue(TABLE.labels, null), 'null');
});

test('--help and the Markdown table, exactly', () => {
  assert.equal(
    renderHelp('app [options]', 'Does things.', TABLE),
    [
      'Usage: app [options]',
      '',
      'Does things.',
      '',
      'Options (flags win over environment, environment over --config file, file over defaults):',
      '  --config FILE                  YAML config file (keys as in config/example.yaml)',
      '  -h, --help                     show this help',
      '  --version                      print the version',
      '  --port VALUE                   port to listen on',
      '                                 [file: server.port; env: APP_PORT; env: LEGACY_PORT; default: 80]',
      '  --host VALUE                   host',
      '                                 [file: server.host; default: host name]',
      '  --name VALUE                   the name',
      '                                 [file: name; required]',
      '  --verbose                      talk more',
      '                                 [file: verbose; default: false]',
      '  --tag VALUE                    tags',
      '                                 [file: tags; default: a,b]',
      '  (file: labels)                 labels (file only)',
      '                                 [file: labels; default: x=1,y=2]',
      '  --token VALUE                  an API token',
      '                                 [file: token]',
      '  --ratio VALUE                  a ratio',
      '                                 [file: ratio; default: 5%]',
      '  --optional VALUE               no default, not required',
      '                                 [file: optional]',
      '',
    ].join('\n'),
  );
  assert.equal(
    renderMarkdownTable(TABLE),
    [
      '| file key | flag | environment | default | meaning |',
      '| --- | --- | --- | --- | --- |',
      '| `server.port` | `--port` | `APP_PORT`, `LEGACY_PORT` | `80` | port to listen on |',
      '| `server.host` | `--host` |  | `host name` | host |',
      '| `name` | `--name` |  | required | the name |',
      '| `verbose` | `--verbose` |  | `false` | talk more |',
      '| `tags` | `--tag` |  | `a,b` | tags |',
      '| `labels` |  |  | `x=1,y=2` | labels (file only) |',
      '| `token` | `--token` |  |  | an API token |',
      '| `ratio` | `--ratio` |  | `5%` | a ratio |',
      '| `optional` | `--optional` |  |  | no default, not required |',
    ].join('\n'),
  );
});

test('what a loaded configuration holds that is secret is registered for redaction: secret options whole, URL userinfo anywhere', () => {
  const token = 'tok-7f3a9c1e55d2';
  const password = 'pw-91b2c3d4e5';
  const inList = 'pw-list-44aa77';
  const inMap = 'pw-map-88cc99';
  loadOptions(TABLE, {
    argv: [
      '--config',
      yaml(`labels:\n  u: http://carol:${inMap}@h\n`),
      '--name',
      `https://alice:${password}@example.test`,
      '--token',
      token,
      '--tag',
      `nats://bob:${inList}@h:4222`,
    ],
    env: {},
  });
  for (const secret of [token, password, inList, inMap]) assert.ok(!redactText(`seen ${secret} here`).includes(secret), secret);
  const plain = 'ops@example.com';
  loadOptions(TABLE, { argv: ['--name', plain], env: {} });
  assert.equal(redactText(`mail ${plain}`), `mail ${plain}`, 'an address without a scheme or password is not a secret');
});
