// `2024 年` (the digest dialect) first; else a lone 19xx/20xx in the title (`Weekly 2024 #18`).
const CHINESE_YEAR = /(?<![0-9])((?:19|20)[0-9]{2})\s*年/;
const LONE_YEAR = /(?<![0-9A-Za-z])((?:19|20)[0-9]{2})(?![0-9A-Za-z])/;

/**
 * The year a title announces (`云计算技术动态 2024 年第十八期` → 2024, `Weekly 2024 #18` → 2024),
 * or undefined. NFKC first, so full-width digits count too.
 */
export function parseTitleYear(title: string): number | undefined {
  const normalised = title.normalize('NFKC');
  const match = CHINESE_YEAR.exec(normalised) ?? LONE_YEAR.exec(normalised);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
