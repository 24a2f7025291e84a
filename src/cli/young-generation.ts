import { setFlagsFromString } from 'node:v8';

/** A Node or V8 option that sizes the young generation: whoever set one keeps what they set. */
const SIZES_YOUNG_GENERATION = /--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;

/**
 * Keeps V8's young generation at its starting size (1 MB per semi-space) for the rest of the
 * process; the commands that run long (`send`, `start`, `serve`, `worker`) call it.
 *
 * V8 doubles the young generation, up to 16 MB per semi-space, whenever the bytes that survived
 * its scavenges since it last grew add up to more than its size. In a long send they always do
 * (each scavenge finds the claimed batch and the messages in flight alive), so a send of any
 * length ended up holding 32 MB of young generation for what 2 MB hold: bench:memory's
 * million-subscriber send peaked at 125 MB with it and 101 MB without, at the same rate.
 * `--max-semi-space-size` would do the same, but only on the command line (V8 sizes the heap
 * once, at start-up); the growth factor is read each time the space would grow, so setting it
 * here works (on the command line it has no effect: checked on Node 20).
 *
 * Short commands (`check`, `build`) keep V8's default: for them a bigger young generation is
 * fewer scavenges and a faster start. Returns whether the limit was set.
 */
export function keepYoungGenerationSmall(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  if (SIZES_YOUNG_GENERATION.test([...execArgv, nodeOptions].join(' '))) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
