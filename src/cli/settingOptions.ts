/**
 * Commander options built from the settings vocabulary (settings/vocabulary.ts), and their values
 * read back through it, so a flag's help, default and validation are those declared once.
 */
import type { Command } from 'commander';
import {
  type Origin,
  type Setting,
  listSetting,
  numberOrDefault,
  numberSetting,
  optionKey,
  readSetting,
  switchSetting,
  textSetting,
} from '../settings/setting.js';
import type { Options } from './options.js';

/** How a command shows a setting: a prefix for its help (`with --results`), no default, required, repeatable. */
export interface SettingUse {
  prefix?: string;
  /** This command's wording of a shared flag (`-q, --quiet`: 'no progress'). */
  help?: string;
  /** false: show no default (the flag's presence means something, as `vbm run --permutations`). */
  default?: false;
  required?: boolean;
  repeatable?: boolean;
}

/** Add a declared setting to a command as a commander option. */
export function addSetting(cmd: Command, s: Setting, use: SettingUse = {}): Command {
  const text = use.help ?? s.help;
  const help = use.prefix ? `${use.prefix}: ${text}` : text;
  const def = s.kind !== 'switch' && s.default !== undefined && use.default !== false ? String(s.default) : undefined;
  if (use.repeatable) return cmd.option(s.flag, help, (v: string, prev: string[] = []) => [...prev, v]);
  if (use.required) return cmd.requiredOption(s.flag, help, def);
  return def === undefined ? cmd.option(s.flag, help) : cmd.option(s.flag, help, def);
}

/** Add several settings in order. */
export function addSettings(cmd: Command, settings: Setting[], use: SettingUse = {}): Command {
  for (const s of settings) addSetting(cmd, s, use);
  return cmd;
}

const CLI: Origin = 'cli';

/** The raw text commander holds for a setting (undefined when not given and without default). */
export function given(o: Options, s: Setting): unknown {
  return o[optionKey(s)];
}

/** A setting's value from the command line, validated; undefined when not given. */
export function flagValue(o: Options, s: Setting): ReturnType<typeof readSetting> {
  return readSetting(s, given(o, s), CLI);
}

/** A number flag, or its declared default, or undefined. */
export function flagNumber(o: Options, s: Setting): number | undefined {
  return numberSetting(s, given(o, s), CLI);
}

/** A number flag that has a default. */
export function flagNumberOrDefault(o: Options, s: Setting): number {
  return numberOrDefault(s, given(o, s), CLI);
}

/** A text or choice flag, or its declared default. */
export function flagText<T extends string = string>(o: Options, s: Setting): T | undefined {
  return textSetting<T>(s, given(o, s), CLI);
}

/** A list flag (comma-separated), or undefined. */
export function flagList<T extends string = string>(o: Options, s: Setting): T[] | undefined {
  return listSetting<T>(s, given(o, s), CLI);
}

/** A switch (`--tfce`, `--no-viewer`). */
export function flagSwitch(o: Options, s: Setting): boolean {
  return switchSetting(s, given(o, s), CLI);
}
