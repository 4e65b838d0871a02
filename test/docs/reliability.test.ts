/**
 * RELIABILITY.md names, for every row of every table, the test that reproduces it, and that file
 * exists (tables read with markdown-it, so a row is a row however it is wrapped). A row may name
 * it itself, or the paragraph that introduces its table may name it for every row (the bad-input
 * table, run by one file; the soak table, one bench). A bare file name (`spoofing.test.ts`) must
 * be the name of exactly one test file. A row whose evidence was removed or renamed fails here
 * instead of staying as a claim nobody checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import MarkdownIt from 'markdown-it';

const ROOT = join(import.meta.dirname, '..', '..');
/** A test, corpus or bench path as rows write it, or a test file's bare name. */
const EVIDENCE = /(?:\b(?:test|bench)\/[\w./-]+\.(?:test\.ts|bench\.ts|json|ts)\b)|(?:(?<![\w/.-])[\w-]+\.test\.ts\b)/g;

interface Row {
  line: number;
  cells: string[];
  /** What the paragraphs between the section's heading and the table say. */
  caption: string;
}

/** Every body row of every table, its cells as plain text, with its table's caption. */
function tableRows(text: string): Row[] {
  const tokens = new MarkdownIt().parse(text, {});
  const rows: Row[] = [];
  let inBody = false;
  let current: Row | undefined;
  let caption = '';
  let inParagraph = false;
  for (const t of tokens) {
    if (t.type === 'heading_open') caption = '';
    else if (t.type === 'paragraph_open') inParagraph = true;
    else if (t.type === 'paragraph_close') inParagraph = false;
    else if (inParagraph && t.type === 'inline') caption += ` ${t.content}`;
    else if (t.type === 'tbody_open') inBody = true;
    else if (t.type === 'tbody_close') inBody = false;
    else if (inBody && t.type === 'tr_open') current = { line: (t.map?.[0] ?? 0) + 1, cells: [], caption };
    else if (inBody && t.type === 'inline' && current !== undefined) current.cells.push(t.content);
    else if (inBody && t.type === 'tr_close' && current !== undefined) {
      rows.push(current);
      current = undefined;
    }
  }
  return rows;
}

/** Every test file's path, relative to the repository. */
function testFiles(dir = 'test'): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(`${dir}/${e.name}`) : e.name.endsWith('.test.ts') ? [`${dir}/${e.name}`] : [],
  );
}

/** What is wrong with the evidence of each row of `text`. */
function evidenceProblems(text: string): { rows: number; problems: string[] } {
  const rows = tableRows(text);
  const tests = testFiles();
  const problems: string[] = [];
  for (const row of rows) {
    const own = row.cells.join(' ').match(EVIDENCE) ?? [];
    const named = own.length > 0 ? own : (row.caption.match(EVIDENCE) ?? []);
    if (named.length === 0) problems.push(`RELIABILITY.md:${row.line}: names no test (${row.cells[0]?.slice(0, 60)})`);
    for (const path of named) {
      if (path.includes('/')) {
        if (!existsSync(join(ROOT, path))) problems.push(`RELIABILITY.md:${row.line}: ${path} does not exist`);
      } else {
        const matches = tests.filter((f) => basename(f) === path);
        if (matches.length !== 1) problems.push(`RELIABILITY.md:${row.line}: ${path} names ${matches.length} test files`);
      }
    }
  }
  return { rows: rows.length, problems };
}

test('every row of RELIABILITY.md names the tests that reproduce it, and they exist', () => {
  const { rows, problems } = evidenceProblems(readFileSync(join(ROOT, 'RELIABILITY.md'), 'utf8'));
  assert.ok(rows >= 40, `${rows} rows found`);
  assert.deepEqual(problems, []);
});

test('the check bites: a row without a test, a missing file, an unknown bare name', () => {
  const text = [
    '## A',
    '',
    'Rows below are run by `test/reliability/bad_input.test.ts`.',
    '',
    '| what | result |',
    '| --- | --- |',
    '| covered by the caption | ok |',
    '',
    '## B',
    '',
    '| what | test |',
    '| --- | --- |',
    '| nothing named | — |',
    '| a file that is not there | `test/reliability/gone.test.ts` |',
    '| a bare name of no file | `nowhere.test.ts` |',
    '| a bare name of one file | `spoofing.test.ts` |',
  ].join('\n');
  const { rows, problems } = evidenceProblems(text);
  assert.equal(rows, 5);
  assert.deepEqual(problems, [
    'RELIABILITY.md:13: names no test (nothing named)',
    'RELIABILITY.md:14: test/reliability/gone.test.ts does not exist',
    'RELIABILITY.md:15: nowhere.test.ts names 0 test files',
  ]);
});
