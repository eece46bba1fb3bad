import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadWorkflowFile } from '../../src/workflow/index.js';
import { bookPipeline } from '../../examples/book-pipeline.js';

const yamlPath = fileURLToPath(new URL('../../../examples/book-pipeline.yaml', import.meta.url));

describe('book pipeline example', () => {
  it('validates, and the TypeScript builder produces the same spec as the YAML', () => {
    const fromYaml = loadWorkflowFile(yamlPath);
    assert.deepEqual(bookPipeline, fromYaml);
  });
});
