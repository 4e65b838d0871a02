/** The value parsers of every option (pure): each accepts exactly what it says and refuses the rest with its one line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  formatDuration,
  formatHostPort,
  MAX_DURATION_MS,
  parseBool,
  parseDuration,
  parseDurationAtLeast,
  parseEnum,
  parseEnumList,
  parseHeaders,
  parseHttpUrl,
  parseInteger,
  parseNumber,
  parseIp,
  parseKeyValues,
  parseLabelValue,
  parseMillis,
  parseReadableFile,
  parseString,
  parseUrlList,
  ValueError,
} from '../../src/config/values.ts';

const refuses = (f: () => unknown, message: string): void => {
  assert.throws(f, (e: unknown) => e instanceof ValueError && e.message === message, message);
};

test('durations: units, seconds by default, bounds, and how they are written back', () => {
  assert.deepEqual(
    ['500ms', '10s', '10', ' 2.5 ', '1m', '2h', '0', '1.0005s', ' 3 ms '].map(parseDuration),
    [500, 10_000, 10_000, 2_500, 60_000, 7_200_000, 0, 1_001, 3],
  );
  assert.deepEqual([0, 1.5, 0.0004].map(parseDuration), [0, 1_500, 0]);
  assert.equal(parseDuration(`${MAX_DURATION_MS}ms`), MAX_DURATION_MS);
  refuses(() => parseDuration(`${MAX_DURATION_MS + 1}ms`), 'is too long; use at most 596h (a number alone means seconds)');
  for (const bad of ['-1', '1d', 'ten', '', '1 s s', '.5', '1.', -1, NaN, Infinity, null, {}]) {
    refuses(() => parseDuration(bad), 'is not a duration; use e.g. 10s, 500ms, 1m or a number of seconds');
  }
  assert.deepEqual([1, 999, 1000, 1500, 60_000, 90_000, 3_600_000, 5_400_000, 0].map(formatDuration), [
    '1ms',
    '999ms',
    '1s',
    '1.5s',
    '1m',
    '90s',
    '1h',
    '90m',
    '0s',
  ]);
  const atLeast = parseDurationAtLeast(1_000);
  assert.equal(atLeast('1s'), 1_000);
  refuses(() => atLeast('999ms'), 'is too short; use at least 1s');
});

test('milliseconds and integers: whole numbers only, within their range', () => {
  assert.deepEqual(['0', ' 15 ', 7, MAX_DURATION_MS].map(parseMillis), [0, 15, 7, MAX_DURATION_MS]);
  for (const bad of ['-1', '1.5', '1e3', 'x', '', -1, 1.5, null]) refuses(() => parseMillis(bad), 'is not a whole number of milliseconds');
  refuses(() => parseMillis(MAX_DURATION_MS + 1), `is too long; use at most ${MAX_DURATION_MS} ms`);
  assert.deepEqual(
    ['-3', ' 5 ', 0, 10].map((v) => parseInteger(v, -3, 10)),
    [-3, 5, 0, 10],
  );
  refuses(() => parseInteger('-4', -3, 10), 'is out of range; use -3..10');
  refuses(() => parseInteger(11, -3, 10), 'is out of range; use -3..10');
  for (const bad of ['1.5', '1e3', 'x', '', '--1', 1.5, NaN, null])
    refuses(() => parseInteger(bad, 0, 10), 'is not a whole number; use 0..10');
});

test('numbers: decimals and exponents within their range; anything else refused', () => {
  assert.deepEqual(
    ['0', ' 0.5 ', '.25', '1e3', '-2', 7.5, 1].map((v) => parseNumber(v, -2, 1000)),
    [0, 0.5, 0.25, 1000, -2, 7.5, 1],
  );
  refuses(() => parseNumber('1001', -2, 1000), 'is out of range; use -2..1000');
  refuses(() => parseNumber(-2.5, -2, 1000), 'is out of range; use -2..1000');
  for (const bad of ['x', '', '1.2.3', '0x10', 'Infinity', NaN, Number.POSITIVE_INFINITY, null, '1 2'])
    refuses(() => parseNumber(bad, 0, 10), 'is not a number; use 0..10');
  assert.deepEqual(
    ['12.5', '1e+2', '1E-1', '1e10'].map((v) => parseNumber(v, 0, 1e12)),
    [12.5, 100, 0.1, 1e10],
    'several digits before a decimal point, a signed exponent, an exponent of several digits',
  );
});

test('booleans, strings and label values', () => {
  assert.deepEqual([true, false, '1', 'TRUE', ' yes ', 'On', '0', 'false', 'NO', ' off '].map(parseBool), [
    true,
    false,
    true,
    true,
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
  for (const bad of ['2', 'y', '', 'truthy', 1, null, 'xtrue', 'truex', 'xoff', 'offx'])
    refuses(() => parseBool(bad), 'is not a boolean; use true or false');
  assert.equal(parseString(' a '), ' a ');
  assert.equal(parseString(5), '5');
  assert.equal(parseString('  ', true), '  ');
  refuses(() => parseString('  '), 'is empty');
  refuses(() => parseString(''), 'is empty');
  refuses(() => parseString(true), 'is not a string');
  assert.equal(parseLabelValue('a b "c" é'), 'a b "c" é');
  assert.equal(parseLabelValue('', true), '');
  for (const bad of ['a\nb', 'a\tb', '\x00', 'x\x7f'])
    refuses(() => parseLabelValue(bad), 'has a control character (a newline?); use printable text');
  refuses(() => parseLabelValue(''), 'is empty');
});

test('words from a list, one or several', () => {
  assert.equal(parseEnum(' GZIP ', ['none', 'gzip']), 'gzip');
  refuses(() => parseEnum('zip', ['none', 'gzip']), 'is not allowed; use one of none, gzip');
  refuses(() => parseEnum(1, ['none', 'gzip']), 'is not allowed; use one of none, gzip');
  const ex = ['prometheus', 'otlp', 'console'] as const;
  assert.deepEqual(parseEnumList(' OTLP, prometheus,,otlp ', ex), ['otlp', 'prometheus']);
  assert.deepEqual(parseEnumList(['console', ' otlp '], ex), ['console', 'otlp']);
  refuses(
    () => parseEnumList('otlp,zipkin', ex),
    'has "zipkin", which is not allowed; use a comma-separated subset of prometheus, otlp, console',
  );
  refuses(() => parseEnumList([5], ex), 'has 5, which is not allowed; use a comma-separated subset of prometheus, otlp, console');
  refuses(() => parseEnumList(' , ', ex), 'is empty; use a comma-separated subset of prometheus, otlp, console');
  refuses(() => parseEnumList(5, ex), 'is not a list; use a comma-separated subset of prometheus, otlp, console');
});

test('addresses and URLs', () => {
  assert.deepEqual(['0.0.0.0', ' 127.0.0.1 ', '::', '[::1]', 'fe80::1'].map(parseIp), ['0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1']);
  for (const bad of ['localhost', '256.0.0.1', '', '[]', 5, '[::1]1', '1[::1]'])
    refuses(() => parseIp(bad), 'is not an IPv4 or IPv6 address; use e.g. 0.0.0.0, 127.0.0.1 or ::');
  assert.deepEqual([formatHostPort('127.0.0.1', 80), formatHostPort('::1', 80)], ['127.0.0.1:80', '[::1]:80']);
  assert.equal(parseHttpUrl(' http://gw:9091/// '), 'http://gw:9091');
  assert.equal(parseHttpUrl('https://u:p@gw/x/'), 'https://u:p@gw/x');
  refuses(() => parseHttpUrl('gw:9091'), 'must be an http:// or https:// URL');
  refuses(() => parseHttpUrl('nats://gw'), 'must be an http:// or https:// URL');
  refuses(() => parseHttpUrl('not a url'), 'is not a URL; use e.g. http://localhost:4318');
  refuses(() => parseHttpUrl(5), 'is not a URL; use e.g. http://localhost:4318');
  refuses(() => parseHttpUrl('http://'), 'is not a URL; use e.g. http://localhost:4318');
  refuses(() => parseHttpUrl('http://:80'), 'is not a URL; use e.g. http://localhost:4318');
  assert.deepEqual(parseUrlList(' nats://a:4222 , ,tls://b ', ['nats', 'tls']), ['nats://a:4222', 'tls://b']);
  assert.deepEqual(parseUrlList(['nats://a'], ['nats']), ['nats://a']);
  assert.deepEqual(parseUrlList([5, ' nats://a '], ['nats']), ['nats://a'], 'a list item that is not a string is left out');
  refuses(() => parseUrlList(' , ', ['nats']), 'is empty');
  refuses(() => parseUrlList(5, ['nats']), 'is empty');
  refuses(() => parseUrlList('nats://a,b c', ['nats']), 'has "b c", which is not a URL');
  refuses(() => parseUrlList('http://a', ['nats', 'tls']), 'has "http://a"; use nats or tls URLs');
  refuses(() => parseUrlList('nats://', ['nats']), 'has "nats://", which names no host');
});

test('files, key=value lists and headers', () => {
  assert.equal(parseReadableFile(join(import.meta.dirname, 'values.test.ts')), join(import.meta.dirname, 'values.test.ts'));
  refuses(() => parseReadableFile('/no/such/file'), 'is not a readable file');
  refuses(() => parseReadableFile(''), 'is empty');
  assert.deepEqual(parseKeyValues(' a = 1 ,, b=x%20y , c=d=e '), { a: '1', b: 'x y', c: 'd=e' });
  assert.deepEqual(parseKeyValues({ a: 1, b: true, c: 'x' }), { a: '1', b: 'true', c: 'x' });
  assert.deepEqual(parseKeyValues(['a=1', { b: 2 }]), { a: '1', b: '2' });
  assert.deepEqual(parseKeyValues(''), {});
  refuses(() => parseKeyValues('=1'), 'has "=1", which is not key=value');
  refuses(() => parseKeyValues(' novalue '), 'has "novalue", which is not key=value');
  refuses(() => parseKeyValues('k=%E0%A4%A'), 'has a badly percent-encoded value for k');
  refuses(() => parseKeyValues(' k =%zz'), 'has a badly percent-encoded value for k');
  refuses(() => parseKeyValues({ a: [1] }), 'has a non-scalar value for a');
  refuses(() => parseKeyValues(5), 'is not a list of key=value pairs');
  assert.deepEqual(parseHeaders("api-key=s3cr3t,X-Trace_Id.1=a b\tc,!#$%&'*+.^_`|~=ok"), {
    'api-key': 's3cr3t',
    'X-Trace_Id.1': 'a b\tc',
    "!#$%&'*+.^_`|~": 'ok',
  });
  refuses(() => parseHeaders('a=1,bad name=1'), 'has a header name with a character no header name may have (header 2, not shown)');
  refuses(() => parseHeaders('x(y)=1'), 'has a header name with a character no header name may have (header 1, not shown)');
  // a header item that is not key=value may be a credential: never quoted
  refuses(() => parseHeaders('a=1,authorization: Bearer t0k'), 'has an item that is not key=value (item 2 of 2, not shown)');
  refuses(() => parseHeaders('t0k=%zz'), 'has a badly percent-encoded value (item 1 of 1, not shown)');
  refuses(() => parseHeaders('k=a%0Ab'), 'has a value for k with a control character (a newline?), which no header may carry');
  refuses(() => parseHeaders('k=a%7Fb'), 'has a value for k with a control character (a newline?), which no header may carry');
});
