/**
 * A small deterministic text generator for training throwaway tokenizers in tests and demos:
 * English-like prose, code-like snippets with indentation, numbers, and multilingual / emoji lines,
 * so every tokenizer path (merges, whitespace runs, byte fallback) gets exercised. Not a training
 * corpus for models (see @llama-moe/data-sampler for that).
 */

/** mulberry32: tiny, fast, and identical on every platform. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is was for on that with as by at from it this be are an or have had not but which one all were ' +
  'expert router token layer model weight gradient training data mixture sparse dense attention head value key query ' +
  'small large river mountain city garden window morning evening light shadow music story letter friend teacher ' +
  'quickly slowly carefully often never always together again under over between through before after during ' +
  'build split merge load save compute measure learn choose balance route gate scale normalize sample'
).split(' ');

const IDENTIFIERS = ['x', 'i', 'j', 'count', 'total', 'hidden', 'expert_id', 'weights', 'tokens', 'self', 'config', 'result'];

const UNICODE_LINES = [
  '日本語のテキストも少し含めます。',
  '专家混合模型把前馈层拆分成多个专家。',
  '한국어 문장도 있습니다.',
  'Ελληνικά: καλημέρα κόσμε',
  'Русский текст: эксперты и маршрутизатор.',
  'العربية: مرحبا بالعالم',
  'Emoji: 🚀 🦙 🔥 👩‍💻 ✨',
  'Accents: café naïve façade Zürich São Paulo',
  'Math: ∑ᵢ xᵢ² ≤ ∞ — α·β → γ',
];

/**
 * `count` documents built from `seed`. Each is a few hundred characters; the mix cycles through
 * prose, code and unicode so even a short list covers all three.
 */
export function sampleTokenizerTexts(options: { seed?: number; count?: number } = {}): string[] {
  const rand = mulberry32(options.seed ?? 1);
  const count = options.count ?? 64;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const sentence = (): string => {
    const n = 4 + Math.floor(rand() * 10);
    const ws = Array.from({ length: n }, () => pick(WORDS));
    ws[0] = ws[0]![0]!.toUpperCase() + ws[0]!.slice(1);
    if (rand() < 0.3) ws.splice(1 + Math.floor(rand() * (n - 1)), 0, String(Math.floor(rand() * 10000)));
    if (rand() < 0.2) ws[ws.length - 1] += ',';
    return ws.join(' ') + pick(['.', '.', '.', '?', '!', ';']);
  };
  const code = (): string => {
    const f = pick(IDENTIFIERS);
    const a = pick(IDENTIFIERS);
    const b = pick(IDENTIFIERS);
    const lines = [
      `def ${f}_${pick(WORDS)}(${a}, ${b}=None):`,
      `    """${sentence()}"""`,
      `    for i in range(${1 + Math.floor(rand() * 64)}):`,
      `        ${a} = ${a} + ${b}[i] * ${(rand() * 2).toFixed(3)}`,
      `    return {"${f}": ${a}, 'n': len(${b})}`,
      '',
      `function ${f}(${a}) {`,
      `\tconst ${b} = ${a}.map((v) => v * ${Math.floor(rand() * 100)});`,
      `\treturn ${b}.length > 0 ? ${b}[0] : null; // ${pick(WORDS)}`,
      '}',
    ];
    return lines.join('\n');
  };
  const out: string[] = [];
  for (let d = 0; d < count; d++) {
    const kind = d % 4;
    if (kind === 3) out.push(code());
    else if (kind === 2) out.push(`${sentence()} ${pick(UNICODE_LINES)}\n${pick(UNICODE_LINES)} ${sentence()}`);
    else out.push(Array.from({ length: 3 + Math.floor(rand() * 4) }, sentence).join(rand() < 0.3 ? '\n\n' : '  '));
  }
  return out;
}
