// Handlebars, as the template compiler imports it; the build bundles its ~30 CommonJS modules
// into this one module (see scripts/build-dist.mjs): ~30 ms to load, ~14 ms bundled.
export { default } from 'handlebars';
