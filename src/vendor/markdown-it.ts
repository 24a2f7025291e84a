// markdown-it, as the parser and the renderer import it; the build bundles it (with mdurl,
// uc.micro, linkify-it, entities and punycode) into this one module. See scripts/build-dist.mjs:
// resolving and linking its dozen modules one by one was ~35 ms of every parse's start, 12 ms bundled.
export { default } from 'markdown-it';
export type { MarkdownIt, StateCore, Token } from 'markdown-it';
