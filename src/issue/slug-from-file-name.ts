/**
 * The slug an issue gets when its front matter names none: the file's base name without its
 * extension, compatibility-normalised (full-width letters become ASCII), accents dropped,
 * lowercased, every run of other characters turned into one dash, at most 80 characters.
 * Returns '' when nothing ASCII is left (an all-Chinese name); the caller picks a fallback.
 */
export function slugFromFileName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? '';
  const stem = base.includes('.') && !base.startsWith('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  return stem
    .normalize('NFKD') // NFKC's compatibility mapping, plus accents split off (é → e + ◌́)
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
}
