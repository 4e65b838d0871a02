import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, redactHeaders, redactText, redactUrl } from '../../src/redact.ts';

test('URL userinfo is hidden, whatever the scheme, parsable or not', () => {
  assert.equal(redactUrl('nats://u:URLSECRET111@127.0.0.1:4222'), `nats://${REDACTED}@127.0.0.1:4222`);
  assert.equal(redactUrl('http://root:pw@etcd:2379'), `http://${REDACTED}@etcd:2379`);
  assert.equal(redactUrl('https://token-only@gw.example/metrics'), `https://${REDACTED}@gw.example/metrics`);
  assert.equal(redactUrl('http://a:b%40c@h:1/p'), `http://${REDACTED}@h:1/p`);
  assert.equal(redactUrl('nats://localhost:4222'), 'nats://localhost:4222');
  assert.equal(redactUrl('http://h/p?x=1'), 'http://h/p?x=1');
});

test('credential query parameters are hidden, others kept', () => {
  assert.equal(
    redactUrl('https://h/v1/metrics?api_key=K1&region=eu&token=T2#f'),
    `https://h/v1/metrics?api_key=${REDACTED}&region=eu&token=${REDACTED}#f`,
  );
  assert.equal(
    redactUrl('http://h/?Password=x&user=bob&X-Amz-Signature=s'),
    `http://h/?Password=${REDACTED}&user=bob&X-Amz-Signature=${REDACTED}`,
  );
});

test('every URL inside a message is redacted; text without URLs is untouched', () => {
  const msg = 'cannot connect to NATS at nats://u:URLSECRET111@127.0.0.1:4222, nats://v:S2@h:1: Authorization Violation';
  const out = redactText(msg);
  assert.doesNotMatch(out, /URLSECRET111|S2@/);
  assert.match(out, /Authorization Violation$/);
  assert.equal(redactText('plain words, no secrets'), 'plain words, no secrets');
});

test('header values are hidden, names kept', () => {
  assert.deepEqual(redactHeaders({ 'api-key': 'k', Authorization: 'Bearer t' }), { 'api-key': REDACTED, Authorization: REDACTED });
});
