/**
 * Issue numbers as editors write them in titles: Chinese numerals (第三十二期), Arabic digits
 * (第32期, full-width 第３２期) and the English forms `No. 18`, `No 18`, `#18`, `Issue 18`.
 */

const DIGITS: Readonly<Record<string, number>> = {
  零: 0,
  〇: 0,
  一: 1,
  二: 2,
  两: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
};

const UNITS: Readonly<Record<string, number>> = { 十: 10, 百: 100, 千: 1000 };

const NUMERAL_CHARS = '零〇一二两三四五六七八九十百千';

/**
 * The value of a Chinese numeral up to 9999 (`三十二` → 32, `十八` → 18, `一百零五` → 105,
 * `两百` → 200, `一百一` → 110, `二〇二四` → 2024), or undefined when the text is not one;
 * a surrounding `第…期` is accepted so a title fragment can be passed as is.
 */
export function parseChineseNumeral(text: string): number | undefined {
  // trim() rather than `\s*期$`, which backtracks quadratically over a run of spaces.
  let numeral = text.trim();
  if (numeral.startsWith('第')) numeral = numeral.slice(1).trimStart();
  if (numeral.endsWith('期')) numeral = numeral.slice(0, -1).trimEnd();
  if (numeral === '') return undefined;
  const chars = [...numeral];
  if (!chars.every((c) => c in DIGITS || c in UNITS)) return undefined;

  // Digits only (`二〇二四`, `三二`): read positionally, like a year.
  if (chars.every((c) => c in DIGITS)) return Number(chars.map((c) => DIGITS[c]).join(''));

  let total = 0;
  let pending: number | undefined; // a digit waiting for its unit
  let lastUnit = Infinity; // units must strictly decrease: 千 > 百 > 十
  let zeroSinceUnit = false; // `一百零五` is 105, but `一百五` is 150
  for (const [index, c] of chars.entries()) {
    const digit = DIGITS[c];
    if (digit !== undefined) {
      if (pending !== undefined) return undefined; // two digits in a row: `三四十`
      if (digit === 0) zeroSinceUnit = true;
      else pending = digit;
      continue;
    }
    const unit = UNITS[c] as number;
    if (unit >= lastUnit) return undefined; // `十十`, `十百`
    if (pending === undefined) {
      // Only a leading 十 may stand without its digit (`十八` = 18).
      if (unit !== 10 || index !== 0) return undefined;
      pending = 1;
    }
    total += pending * unit;
    pending = undefined;
    lastUnit = unit;
    zeroSinceUnit = false;
  }
  if (pending !== undefined) {
    // A trailing digit right after 百/千 abbreviates the next unit down: `一百一` = 110.
    total += !zeroSinceUnit && lastUnit >= 100 ? pending * (lastUnit / 10) : pending;
  }
  return total;
}

const ISSUE_NUMBER_PATTERNS: readonly RegExp[] = [
  new RegExp(`第\\s*([0-9]+|[${NUMERAL_CHARS}]+)\\s*期`),
  /\bNo\.?\s*([0-9]+)\b/i,
  /\bIssue\s*#?\s*([0-9]+)\b/i,
  /#\s?([0-9]+)\b/,
];

/**
 * The issue number a title announces (`云计算技术动态 2024 年第十八期` → 18, `Weekly No. 7` → 7),
 * or undefined; titles are NFKC-normalised first so full-width digits and `＃` count too.
 */
export function parseIssueNumber(title: string): number | undefined {
  const normalised = title.normalize('NFKC');
  for (const pattern of ISSUE_NUMBER_PATTERNS) {
    const match = pattern.exec(normalised);
    const raw = match?.[1];
    if (raw === undefined) continue;
    const value = /^[0-9]+$/.test(raw) ? Number(raw) : parseChineseNumeral(raw);
    if (value !== undefined && Number.isSafeInteger(value) && value > 0) return value;
  }
  return undefined;
}
