// Preloaded with `node --import` (or NODE_OPTIONS, for the processes it starts too) into a CLI child: appends the URL of every module the child
// resolves to the file named by LETTERPRESS_TEST_LOAD_LOG, one a line. Plain JavaScript, since
// the child runs the built CLI without a TypeScript loader.
import { register } from 'node:module';

const log = process.env.LETTERPRESS_TEST_LOAD_LOG;
if (log) {
  register(
    'data:text/javascript,' +
      encodeURIComponent(`
        import { appendFileSync } from 'node:fs';
        let file;
        export function initialize(data) { file = data.file; }
        export async function resolve(specifier, context, next) {
          const result = await next(specifier, context);
          appendFileSync(file, result.url + '\\n');
          return result;
        }
      `),
    { data: { file: log } },
  );
}
