/**
 * The frontend's stand-in for a tokenizer: one token per whitespace-separated word, its id a
 * 32-bit FNV-1a hash of the word modulo `VOCABULARY_SIZE`. It is not a model's tokenizer (counts
 * differ from a BPE's), but it is deterministic and prefix-stable: two prompts that begin with the
 * same words begin with the same token ids, which is what prefix caching and the metrics need. A
 * chat is rendered as one `role: content` line per message, in order. Pure.
 */

/** Token ids are taken modulo this (the size of a common BPE vocabulary). */
export const VOCABULARY_SIZE = 32_000;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function wordId(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME) >>> 0;
  return h % VOCABULARY_SIZE;
}

/** The token ids of `text`. */
export function tokenize(text: string): number[] {
  const out: number[] = [];
  for (const word of text.split(/\s+/)) if (word !== '') out.push(wordId(word));
  return out;
}

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** The prompt text of a chat: one `role: content` line per message. */
export function renderChat(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}`).join('\n');
}
