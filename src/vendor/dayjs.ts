// dayjs with its UTC plugin and the locales the templates ship (registered on import), as the
// date formatter imports them; the build bundles them into this one module (see
// scripts/build-dist.mjs), so the locale registers on the same dayjs the formatter uses.
import 'dayjs/locale/zh-cn.js';
export { default as dayjs } from 'dayjs';
export { default as utcPlugin } from 'dayjs/plugin/utc.js';
