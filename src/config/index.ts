/** Config: one validated value per option from file, environment and flags. */
export { loadOptions, readConfigFile, renderHelp, renderMarkdownTable, ConfigError } from './schema.ts';
export type { EnvSource, OptionSpec, OptionValues, LoadInput, Loaded } from './schema.ts';
export { connectionOptionSpecs, nameParser } from './commonOptions.ts';
export { ValueError } from './values.ts';
