/** Prints the README's option tables, generated from the option specs (a test keeps them equal). */
import { aggregatorOptionSpecs } from '../src/aggregator/options.ts';
import { renderMarkdownTable } from '../src/config/schema.ts';

export function readmeOptionsTable(): string {
  return renderMarkdownTable(aggregatorOptionSpecs());
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(readmeOptionsTable());
