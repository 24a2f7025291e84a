// The part of zod the configuration code uses, as `z`. From source (tests, tsx) this module is
// used as written; the build (scripts/build-dist.mjs) replaces its compiled form with these
// imports and what they need bundled into this one module. zod is about a hundred ES modules,
// half of them locales, and every command that reads the configuration resolved, linked and
// ran them all: about 70 ms and 15 MB. Bundled with only what `z` below holds, it loads in
// 15 ms and 4 MB. A schema that needs more of zod adds it here.
import {
  boolean,
  enum as enumOf,
  number,
  strictObject,
  string,
  ZodBoolean,
  ZodDefault,
  ZodNumber,
  ZodObject,
  ZodOptional,
  ZodPipe,
} from 'zod';
import type * as zod from 'zod';

export const z = {
  boolean,
  enum: enumOf,
  number,
  strictObject,
  string,
  ZodBoolean,
  ZodDefault,
  ZodNumber,
  ZodObject,
  ZodOptional,
  ZodPipe,
};

/** The types the configuration code names through `z`, as zod's own namespace has them. */
export declare namespace z {
  type ZodType = zod.ZodType;
  type input<T> = zod.input<T>;
  type output<T> = zod.output<T>;
}
