/**
 * Synthetic issues shaped like the samples (4 sections × 2 items, Chinese titles, a link and
 * a ~150-character summary each), so benchmarks measure realistic input at any count.
 */
const SECTIONS = ['分布式系统', '云计算技术', '大模型技术', '技术之外'];
const WORDS = '本文探讨了分布式计算的演变并详细讨论了存储架构元数据管理网络拥塞控制推理系统训练系统内存墙带宽延迟性能功耗'.split('');

function chineseNumeral(n: number): string {
  const digits = '零一二三四五六七八九';
  if (n < 10) return digits[n]!;
  if (n < 20) return `十${n % 10 ? digits[n % 10] : ''}`;
  if (n < 100) return `${digits[Math.floor(n / 10)]}十${n % 10 ? digits[n % 10] : ''}`;
  return String(n);
}

/** Deterministic pseudo-random text, so every run benchmarks the same bytes. */
function text(seed: number, length: number): string {
  let out = '';
  let x = seed;
  for (let i = 0; i < length; i += 1) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += WORDS[x % WORDS.length];
    if (i % 37 === 36) out += '，';
  }
  return `${out}。`;
}

/** The Markdown of synthetic issue `index` (0-based): a dated digest issue. */
export function synthesizeIssue(index: number): { name: string; markdown: string } {
  const year = 2000 + Math.floor(index / 52);
  const week = (index % 52) + 1;
  const date = new Date(Date.UTC(2000, 0, 3) + index * 7 * 86_400_000).toISOString().slice(0, 10);
  const lines = ['---', `date: ${date}`, '---', `# 云计算技术动态 ${year} 年第${chineseNumeral(week)}期`, ''];
  SECTIONS.forEach((section, s) => {
    lines.push(`## ${section}`, '');
    for (let i = 1; i <= 2; i += 1) {
      const seed = index * 100 + s * 10 + i;
      lines.push(`**${i}.** **${text(seed, 18)}**`, '', `https://example.org/articles/${index}-${s}-${i}`, '');
      lines.push(`**摘要:** ${text(seed + 7, 150)}`, '');
    }
  });
  return { name: `${year}-${String(week).padStart(2, '0')}.md`, markdown: `${lines.join('\n')}\n` };
}
