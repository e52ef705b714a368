/**
 * What a user setting is (its flag, its analysis-file key, its type, default and allowed values),
 * where its value was written (the command line, an analysis file, or a library call), and the
 * one validator that reads a value from either and names the setting as the user wrote it.
 * Pure: no node:* module; the declarations themselves are in settings/vocabulary.ts.
 */
import { VbmError } from '../errors.js';

/**
 * How a value is read: a number (`integer`: a whole one), free text (a path, a column name), a
 * `switch` (present or not; true/false in a file), one of `choices`, a comma-separated `list`
 * (a YAML list in a file), or a byte size (`bytes`: 8G, 512M, or a number of bytes).
 */
export type SettingKind = 'number' | 'integer' | 'text' | 'switch' | 'choice' | 'list' | 'bytes';

/** One user setting, declared once for the command line, analysis files and the library. */
export interface Setting {
  /** The command-line flag as commander declares it: `--peaks <n>`, `-o, --out <dir>`, `--no-viewer`. */
  readonly flag: string;
  /** The analysis-file key, dotted where the file nests it (`results.peaks`); absent: command line only. */
  readonly key?: string;
  readonly kind: SettingKind;
  /** The default (absent: none, or one worked out at run time, which `help` then says). */
  readonly default?: number | string | boolean;
  /** Allowed values of a `choice`, or of each item of a `list`. */
  readonly choices?: readonly string[];
  /** Inclusive bounds of a number. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds of a number (a p-value lies strictly between 0 and 1). */
  readonly above?: number;
  readonly below?: number;
  /** One line for `--help` and the README. */
  readonly help: string;
}

/**
 * Where a setting's value was written, so that a message names it as the user wrote it:
 * `{ file }` (the key in that analysis file: `study.yaml: permute: permutations`), or `'cli'`
 * (the flag: `--permutations`). Undefined (a library call that does not say) names the flag too.
 */
export type Origin = 'cli' | { readonly file: string } | undefined;

/** The long flag without its value: `--peak-distance`, `--no-viewer`. */
export function longFlag(s: Setting): string {
  const m = /--[a-z0-9-]+/i.exec(s.flag);
  if (!m) throw new Error(`setting ${s.flag} has no long flag`);
  return m[0];
}

/** Commander's name for a flag's value: `--peak-distance` is `peakDistance`, `--no-viewer` is `viewer`. */
export function optionKey(s: Setting): string {
  return longFlag(s)
    .slice(2)
    .replace(/^no-/, '')
    .replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The setting as the user wrote it: `--peaks`, or `study.yaml: results: peaks` in an analysis file. */
export function settingName(s: Setting, origin: Origin): string {
  if (origin === 'cli' || origin === undefined || s.key === undefined) return longFlag(s);
  return `${origin.file}: ${s.key.split('.').join(': ')}`;
}

/** A value as the user wrote it, for messages: text as it is, anything else as JSON. */
function shown(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

function orList(xs: readonly string[]): string {
  return xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

function fail(s: Setting, origin: Origin, what: string, hint?: string): never {
  throw new VbmError(`${settingName(s, origin)} ${what}`, hint);
}

/** A byte size: 8G, 1.5T, 512M, 64k, or a plain number of bytes (powers of 1024, as Slurm's --mem). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return undefined;
  const [, amount = '', unit = ''] = m;
  const power = ['', 'k', 'm', 'g', 't'].indexOf(unit.toLowerCase());
  return Math.round(Number(amount) * 1024 ** power);
}

function readNumberValue(s: Setting, v: unknown, origin: Origin): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && origin === 'cli' && v.trim() !== '') n = Number(v);
  else fail(s, origin, `must be a number (got ${shown(v)})`);
  if (!Number.isFinite(n)) fail(s, origin, `${shown(v)} is not a number`);
  if (s.kind === 'integer' && !Number.isInteger(n)) fail(s, origin, `must be a whole number (got ${shown(v)})`);
  const range = (): string =>
    [
      s.min !== undefined ? `>= ${s.min}` : s.above !== undefined ? `> ${s.above}` : '',
      s.max !== undefined ? `<= ${s.max}` : s.below !== undefined ? `< ${s.below}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
  if (
    (s.min !== undefined && n < s.min) ||
    (s.max !== undefined && n > s.max) ||
    (s.above !== undefined && !(n > s.above)) ||
    (s.below !== undefined && !(n < s.below))
  )
    fail(s, origin, `must be ${range()} (got ${shown(v)})`);
  return n;
}

function readChoiceValue(s: Setting, v: unknown, origin: Origin): string {
  const choices = s.choices ?? [];
  const x = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (typeof x !== 'string' || !choices.includes(x)) fail(s, origin, `must be ${orList(choices)} (got ${shown(v)})`);
  return x;
}

function readListValue(s: Setting, v: unknown, origin: Origin): string[] {
  let items: string[];
  if (typeof v === 'string')
    items = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
    items = v.map((x) => String(x).trim());
  else fail(s, origin, `must be a comma-separated list or a list (got ${shown(v)})`);
  if (s.choices) {
    const choices = s.choices;
    for (const x of items)
      if (!choices.includes(x))
        throw new VbmError(`${settingName(s, origin)}: '${x}' is not one of ${choices.join(', ')}`);
  }
  return items;
}

/**
 * Read one setting's value as written on the command line (text) or in an analysis file (YAML
 * values), validated against its declaration; undefined when it was not given. Errors name the
 * setting as `origin` says the user wrote it.
 */
export function readSetting(s: Setting, v: unknown, origin: Origin): number | string | boolean | string[] | undefined {
  if (v === undefined || v === null) return undefined;
  switch (s.kind) {
    case 'number':
    case 'integer':
      return readNumberValue(s, v, origin);
    case 'text':
      if (typeof v === 'number' && origin !== 'cli') return String(v);
      if (typeof v !== 'string') fail(s, origin, `must be text (got ${shown(v)})`);
      return v;
    case 'switch':
      if (typeof v !== 'boolean') fail(s, origin, `must be true or false (got ${shown(v)})`);
      return v;
    case 'choice':
      return readChoiceValue(s, v, origin);
    case 'list':
      return readListValue(s, v, origin);
    case 'bytes': {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseByteSize(v) : undefined;
      if (n === undefined || !Number.isFinite(n) || n <= 0)
        fail(s, origin, `must be a size such as 8G, 512M or a number of bytes (got ${shown(v)})`);
      return n;
    }
  }
}

/** A number setting: the value given, else the declared default (undefined when there is none). */
export function numberSetting(s: Setting, v: unknown, origin: Origin): number | undefined {
  const x = readSetting(s, v, origin) ?? s.default;
  return x === undefined ? undefined : (x as number);
}

/** A number setting that has a default, so always has a value. */
export function numberOrDefault(s: Setting, v: unknown, origin: Origin): number {
  const x = numberSetting(s, v, origin);
  if (x === undefined) fail(s, origin, 'is required');
  return x;
}

/** A choice setting (or free text): the value given, else the declared default. */
export function textSetting<T extends string = string>(s: Setting, v: unknown, origin: Origin): T | undefined {
  const x = readSetting(s, v, origin) ?? s.default;
  return x === undefined ? undefined : (String(x) as T);
}

/** A switch: the value given, else the declared default (false when none is declared). */
export function switchSetting(s: Setting, v: unknown, origin: Origin): boolean {
  return Boolean(readSetting(s, v, origin) ?? s.default ?? false);
}

/** A list setting: the items given, else undefined. */
export function listSetting<T extends string = string>(s: Setting, v: unknown, origin: Origin): T[] | undefined {
  return readSetting(s, v, origin) as T[] | undefined;
}

/** A text or choice setting's declared default, for library functions called without it. */
export function defaultText<T extends string = string>(s: Setting): T {
  if (typeof s.default !== 'string') throw new Error(`setting ${s.flag} has no text default`);
  return s.default as T;
}

/** A number setting's declared default, for library functions called without it. */
export function defaultOf(s: Setting): number {
  if (typeof s.default !== 'number') throw new Error(`setting ${s.flag} has no numeric default`);
  return s.default;
}
