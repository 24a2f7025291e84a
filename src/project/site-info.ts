import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import type { SiteInfo } from '../render/types.ts';

/** The slice of the config that rendering depends on. */
export function siteInfoFromConfig(config: Config): SiteInfo {
  return {
    url: config.site.url,
    title: config.site.title,
    description: config.site.description,
    author: { ...config.site.author },
    postalAddress: config.site.postalAddress,
    locale: config.locale,
    timezone: config.timezone,
    feedLimit: config.feed.limit,
    subjectTemplate: config.email.subject,
  };
}

/** Changes exactly when something that rendered pages depend on changes in the config. */
export function siteFingerprint(site: SiteInfo): string {
  return createHash('sha256').update(JSON.stringify(site)).digest('hex');
}
