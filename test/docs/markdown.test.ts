/**
 * Every Markdown file of the repository renders as meant (markdown-it, the CommonMark parser
 * most Markdown tooling in Node uses): no fence written with escaped backticks, which renders
 * as literal text; every relative link and image resolves to a file inside the repository;
 * nothing points at the team's shared folder beside the checkout, which a user's clone does not have.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const md = new MarkdownIt();
/** The team's folder beside the checkout (spelled apart so that this file does not point at it). */
const SHARED = ['..', 'shared'].join('/');
const SHARED_RE = new RegExp(`${SHARED.replace(/\./g, '\\.')}\\b`);

/** The Markdown files git tracks or would track (new files count too). */
function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\n').filter((f) => f !== '' && existsSync(join(ROOT, f)));
}

function* walk(tokens: Token[]): Generator<Token> {
  for (const t of tokens) {
    yield t;
    if (t.children) yield* walk(t.children);
  }
}

/** Problems of one Markdown text; `file` is its path relative to the repository root. */
export function markdownProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  const tokens = md.parse(text, {});
  for (const t of walk(tokens)) {
    if ((t.type === 'inline' || t.type === 'paragraph_open') && t.content !== undefined && /(^|\n)\s*\\`\\`\\`/.test(t.content)) {
      problems.push(`${file}:${(t.map?.[0] ?? 0) + 1}: a code fence written with escaped backticks renders as text`);
    }
    const href = t.type === 'link_open' ? t.attrGet('href') : t.type === 'image' ? t.attrGet('src') : null;
    if (href === null) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#')) continue; // absolute URL or anchor
    const target = resolve(ROOT, dirname(file), decodeURIComponent(href.split('#')[0]!));
    const rel = relative(ROOT, target);
    if (rel.startsWith('..')) problems.push(`${file}: link ${href} points outside the repository`);
    else if (!existsSync(target)) problems.push(`${file}: link ${href} does not resolve (no ${rel})`);
  }
  if (SHARED_RE.test(text)) problems.push(`${file}: mentions ${SHARED}, which a user's clone does not have`);
  return problems;
}

test('every Markdown file renders clean: no escaped fences, every relative link resolves inside the repository', () => {
  const files = markdownFiles();
  assert.ok(files.includes('README.md') && files.some((f) => f.startsWith('docs/')), `found ${files.join(', ')}`);
  const problems = files.flatMap((f) => markdownProblems(f, readFileSync(join(ROOT, f), 'utf8')));
  assert.deepEqual(problems, []);
});

test('the checks catch what they are for', () => {
  const bad = [
    '\\`\\`\\`sh',
    'docker compose up',
    '\\`\\`\\`',
    '',
    `[spec](${SHARED}/spec/wire.md) [gone](docs/nope.md) [ok](README.md) [web](https://example.com) [anchor](#x)`,
  ].join('\n');
  const problems = markdownProblems('README.md', bad);
  assert.equal(problems.filter((p) => /escaped backticks/.test(p)).length, 1, problems.join('\n'));
  assert.ok(problems.some((p) => p.includes(`${SHARED}/spec/wire.md points outside`)));
  assert.ok(problems.some((p) => /docs\/nope\.md does not resolve/.test(p)));
  assert.ok(problems.some((p) => p.includes(`mentions ${SHARED}`)));
  assert.equal(problems.length, 4, problems.join('\n'));
});
