import type { DecodeStream, Tokenizer } from '@llama-moe/llama-model';

/**
 * A decode stream for the text generated after `prompt`: the prompt's ids go through it first and
 * their text is dropped (the page shows the prompt as typed). A SentencePiece decoder strips the
 * leading space of a sequence's first token, so a stream that began at the first generated token
 * would print "to thesame" for "to the" + "▁same".
 */
export function decodeStreamAfter(tokenizer: Tokenizer, prompt: readonly number[]): DecodeStream {
  const stream = tokenizer.decodeStream();
  for (const id of prompt) stream.push(id);
  stream.flush();
  return stream;
}
