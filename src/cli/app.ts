import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import { buildSite, type BuildProgress, type BuildReport } from '../build/build-site.ts';
import { systemClock, type Clock } from '../util/clock.ts';

/** The process-level facts every command receives instead of reading globals. */
export interface AppEnvironment {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
}

/** The wired application: config loaded once, each capability a method. */
export interface App {
  loaded: LoadedConfig;
  clock: Clock;
  build(onProgress?: (event: BuildProgress) => void): Promise<BuildReport>;
}

/** The one place where configuration and implementations are put together. */
export async function createApp(environment: AppEnvironment): Promise<App> {
  const loaded = await loadConfig({ root: environment.root, env: environment.env });
  const clock = environment.clock ?? systemClock;
  return {
    loaded,
    clock,
    build: (onProgress) => buildSite({ loaded, clock, onProgress }),
  };
}
