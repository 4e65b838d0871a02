/** Config: one validated value per option from file, environment and flags. */
export { loadOptions, readConfigFile, renderHelp, renderMarkdownTable, defaultText, formatValue, ConfigError } from './schema.ts';
export type { EnvSource, Option, OptionTable, OptionValues, LoadInput, Loaded } from './schema.ts';
export { connectionOptions, nameParser } from './commonOptions.ts';
export { ValueError, formatDuration } from './values.ts';
