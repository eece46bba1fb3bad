// A process that takes turns under a lock file (started by lock.test.ts). Modes:
//   count LOCK FILE N  — N times: under the lock, read a counter, wait a little, write it back plus one.
//   hold LOCK          — take the lock, say "held", and keep it until killed.
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock, withLock } from '../../src/durable/index.js';

const [mode, lock, file, n] = process.argv.slice(2);
if (mode === 'count') {
  for (let i = 0; i < Number(n); i++) {
    await withLock(lock as string, async () => {
      const v = Number(await readFile(file as string, 'utf8'));
      await sleep(2); // widen the read-modify-write window: without the lock, updates get lost
      await writeFile(file as string, String(v + 1));
    });
  }
} else if (mode === 'hold') {
  await acquireLock(lock as string);
  process.stdout.write('held\n');
  setInterval(() => undefined, 1000);
}
