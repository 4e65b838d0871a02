/** The tokenizer stand-in: one token per word, deterministic and prefix-stable. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChat, tokenize, VOCABULARY_SIZE } from '../../src/frontend/tokenizer.ts';

test('one token per whitespace-separated word, the same word the same id, ids within the vocabulary', () => {
  const ids = tokenize('  the cat\tsat on\nthe mat ');
  assert.equal(ids.length, 6);
  assert.equal(ids[0], ids[4], 'the = the');
  assert.notEqual(ids[1], ids[5]);
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < VOCABULARY_SIZE));
  assert.deepEqual(tokenize(''), []);
});

test('prompts that begin with the same words begin with the same ids (prefix caching can work)', () => {
  const a = tokenize(
    renderChat([
      { role: 'system', content: 'you are helpful' },
      { role: 'user', content: 'question one' },
    ]),
  );
  const b = tokenize(
    renderChat([
      { role: 'system', content: 'you are helpful' },
      { role: 'user', content: 'another question' },
    ]),
  );
  assert.deepEqual(a.slice(0, 5), b.slice(0, 5));
  assert.notDeepEqual(a.slice(5), b.slice(5));
  assert.equal(renderChat([{ role: 'user', content: 'hi' }]), 'user: hi');
});
