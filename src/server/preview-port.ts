/**
 * `letterpress preview` listens here unless told otherwise (next to `serve`'s 8080). In a file
 * of its own so the CLI can show it in `--help` without loading the preview server.
 */
export const DEFAULT_PREVIEW_PORT = 8081;
