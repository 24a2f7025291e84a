/**
 * Line wrapping for the text/plain email part, aware of CJK text.
 *
 * Width is counted in terminal columns: East Asian wide characters count two, so a 72-column
 * line holds about 36 Chinese characters. Lines may break between any two CJK characters
 * (Chinese has no spaces) and at spaces in other scripts, but never inside a Latin word or a
 * URL (an over-long URL gets a line of its own), never before closing punctuation (，。、）…)
 * and never after opening punctuation (（「《…), the usual kinsoku rules.
 */

const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;
const NO_LINE_START = new Set([...'，。、；：！？）」』】》〉〕］｝…—～·,.;:!?)]}%”’']);
const NO_LINE_END = new Set([...'（「『【《〈〔［｛([{“‘']);

/** Display width of a string in terminal columns (wide characters count two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += WIDE.test(ch) ? 2 : 1;
  return width;
}

interface Unit {
  text: string;
  width: number;
  spaceBefore: boolean;
  /** A Latin word still accepting letters. */
  open: boolean;
}

function splitUnits(line: string): Unit[] {
  const units: Unit[] = [];
  let pendingSpace = false;
  let glueNext = false;
  for (const ch of line) {
    if (/\s/u.test(ch)) {
      pendingSpace = units.length > 0;
      glueNext = false;
      const last = units.at(-1);
      if (last) last.open = false;
      continue;
    }
    const wide = WIDE.test(ch);
    const width = wide ? 2 : 1;
    const last = units.at(-1);
    const attach =
      last !== undefined &&
      !pendingSpace &&
      (glueNext || NO_LINE_START.has(ch) || (!wide && last.open));
    if (attach && last) {
      last.text += ch;
      last.width += width;
      last.open = !wide && last.open;
    } else {
      units.push({ text: ch, width, spaceBefore: pendingSpace, open: !wide });
    }
    glueNext = NO_LINE_END.has(ch);
    pendingSpace = false;
  }
  return units;
}

/** Wraps one line (no `\n`) to `width` columns; the first line may carry a different prefix. */
function wrapLine(line: string, width: number, first: string, rest: string): string[] {
  const units = splitUnits(line);
  if (units.length === 0) return [first.trimEnd()];
  const out: string[] = [];
  let current = first;
  let currentWidth = displayWidth(first);
  let empty = true;
  for (const unit of units) {
    const gap = unit.spaceBefore && !empty ? 1 : 0;
    if (!empty && currentWidth + gap + unit.width > width) {
      out.push(current);
      current = rest;
      currentWidth = displayWidth(rest);
      empty = true;
    }
    const sep = unit.spaceBefore && !empty ? ' ' : '';
    current += sep + unit.text;
    currentWidth += sep.length + unit.width;
    empty = false;
  }
  out.push(current);
  return out;
}

/**
 * Wraps text to `width` columns, keeping its own line breaks; every line gets `indent`, except
 * the very first, which gets `firstIndent` (a list number, say).
 */
export function wrapText(
  text: string,
  options: { width?: number; indent?: string; firstIndent?: string } = {},
): string {
  const width = options.width ?? 72;
  const indent = options.indent ?? '';
  const firstIndent = options.firstIndent ?? indent;
  const lines = text.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    const prefix = i === 0 ? firstIndent : indent;
    if (line.trim() === '') {
      out.push('');
      return;
    }
    out.push(...wrapLine(line, width, prefix, indent));
  });
  return out.map((line) => line.trimEnd()).join('\n');
}
