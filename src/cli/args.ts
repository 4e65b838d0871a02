/**
 * Flag parsing shared by the commands: the option table of each command (`commands.ts`),
 * `--help`, `--version`, and one-line errors.
 */
import { packageVersion } from '../export/staticAssets.ts';
import { loadOptions, renderHelp, type Loaded, type OptionTable } from '../config/schema.ts';
import type { Command } from './commands.ts';

/**
 * Parses argv and env against the command's options; prints help (or the version) and exits 0
 * on `--help` (`--version`). Throws `ConfigError`.
 */
export function parseCommand<S extends OptionTable>(cmd: Command<S>, argv = process.argv.slice(2), env = process.env): Loaded<S> {
  if (argv.includes('--version')) {
    process.stdout.write(`${cmd.name} ${packageVersion()}\n`);
    process.exit(0);
  }
  const table = cmd.options();
  const loaded = loadOptions(table, { argv, env });
  if (loaded.help) {
    process.stdout.write(renderHelp(cmd.usage, cmd.about, table));
    process.exit(0);
  }
  return loaded;
}
