/** Config: one validated value from file, environment and flags. */
import { exportConfigFrom, exportOptionSpecs, type ExportConfig } from './exportOptions.ts';
import { loadOptions, type LoadInput } from './schema.ts';

export * from './schema.ts';
export * from './exportOptions.ts';
export { ValueError } from './values.ts';

/** Loads only the export options (the status server and tests). */
export function loadExportConfig(input: LoadInput, defaults: { serviceName: string; port?: number }): ExportConfig {
  return exportConfigFrom(loadOptions(exportOptionSpecs(defaults), input).values);
}
