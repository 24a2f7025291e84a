/**
 * Why the configured public URL is unsafe for subscription links, or undefined when it is fine:
 * links that carry tokens must travel over https, except on loopback, where nothing leaves the
 * machine (a local preview, tests).
 */
export function checkSiteUrl(siteUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(siteUrl);
  } catch {
    return `site.url "${siteUrl}" is not a valid URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (isLoopbackHost(url.hostname)) return undefined;
  return `site.url is ${url.origin}: confirmation and unsubscribe links carry tokens and must use https outside loopback; set site.url to an https:// address (LETTERPRESS_SITE_URL)`;
}

/** True for names and addresses that only ever reach this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
