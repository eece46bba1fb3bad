// Opens a workspace's metadata store the moment a "go" file appears (started by migrate.test.ts, several at
// once, so they all create and migrate the same new database together). Args: WORKSPACE GO_FILE NAME.
import { existsSync } from 'node:fs';
import { MetadataStore } from '../../src/metadata/index.js';

const [workspace, go, name] = process.argv.slice(2) as [string, string, string];
process.stdout.write('ready\n');
const deadline = Date.now() + 120_000;
while (!existsSync(go)) {
  if (Date.now() > deadline) throw new Error('no go signal within 120 s');
  await new Promise((r) => setTimeout(r, 1));
}
const store = MetadataStore.open(workspace);
store.createRun({ name, workflow: 'w', spec: {}, parameters: {} });
store.close();
