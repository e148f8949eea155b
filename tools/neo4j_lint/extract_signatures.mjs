// Regenerates neo4j5_signatures.json: the real Neo4j 5 ("CYPHER 5") function and procedure
// signatures shipped by @neo4j-cypher/language-support as testData.mockSchema.
//
//   cd tools/neo4j_lint && npm ci && node extract_signatures.mjs
//
// Output is deterministic (keys sorted) so a regeneration only shows real changes in a diff.
import { writeFileSync, readFileSync } from 'node:fs';
import { testData } from '@neo4j-cypher/language-support';

const VERSION = 'CYPHER 5';
// The package's "exports" map hides package.json, so read it from node_modules directly.
const pkg = JSON.parse(
  readFileSync(
    new URL('./node_modules/@neo4j-cypher/language-support/package.json', import.meta.url),
    'utf8',
  ),
);

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

const { functions, procedures } = testData.mockSchema;
if (!functions?.[VERSION] || !procedures?.[VERSION]) {
  console.error(`testData.mockSchema has no '${VERSION}' functions/procedures`);
  process.exit(2);
}

const out = {
  _generatedBy: 'tools/neo4j_lint/extract_signatures.mjs',
  _source: `${pkg.name}@${pkg.version} testData.mockSchema`,
  defaultLanguage: VERSION,
  functions: { [VERSION]: sortKeys(functions[VERSION]) },
  procedures: { [VERSION]: sortKeys(procedures[VERSION]) },
};

const target = new URL('./neo4j5_signatures.json', import.meta.url);
writeFileSync(target, JSON.stringify(out, null, 1) + '\n');
console.log(
  `wrote ${target.pathname}: ${Object.keys(out.functions[VERSION]).length} functions, ` +
    `${Object.keys(out.procedures[VERSION]).length} procedures`,
);
