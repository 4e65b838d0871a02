/**
 * Flag parsing shared by the commands: the option table of `src/config`, `--help`, and one-line
 * errors.
 */
import { loadOptions, renderHelp, type Loaded, type OptionSpec } from '../config/schema.ts';

export interface CommandInfo {
  name: string;
  usage: string;
  about: string;
}

/** Parses argv and env against `specs`; prints help and exits 0 on `--help`. Throws `ConfigError`. */
export function parseCommand(info: CommandInfo, specs: OptionSpec[], argv = process.argv.slice(2), env = process.env): Loaded {
  const loaded = loadOptions(specs, { argv, env });
  if (loaded.help) {
    process.stdout.write(renderHelp(info.usage, info.about, specs));
    process.exit(0);
  }
  return loaded;
}
