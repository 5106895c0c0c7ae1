// Shared by the experiment scripts that write into docs: the section between two markers of a
// markdown file is replaced (the rest of the file, written by people, is kept), atomically.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.mjs';

/** Replace what lies between `<!-- name:begin -->` and `<!-- name:end -->` in `file` with `body` (appended when absent). */
export function writeMarkedSection(file, name, body, title) {
  const begin = `<!-- ${name}:begin -->`, end = `<!-- ${name}:end -->`;
  const section = `${begin}\n${body}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `# ${title}\n\n${begin}\n${end}\n`;
  const i = text.indexOf(begin), j = text.indexOf(end);
  writeFileAtomic(file, i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text}\n${section}\n`);
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n − 1); NaN for fewer than two values. */
export const std = (xs) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));
