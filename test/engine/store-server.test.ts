import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { Store, StoreOp, StoreServer } from '../../src/engine/index.js';
import { INTRUSIONS, rawExchange } from './store-client.js';

const SECRET = 'a'.repeat(64);

describe('rendezvous store server (secret, loopback)', { timeout: 120_000 }, () => {
  it('a client without the secret can neither abort, join, nor write the result', async (t) => {
    const server = await StoreServer.start({ host: '127.0.0.1', secret: SECRET });
    t.after(() => server.close());
    // No auth frame at all: the protocol's writes straight away.
    const bare = await rawExchange(server.port, INTRUSIONS);
    assert.equal(bare.length, 1, 'one refusal, then the connection closes');
    assert.equal(bare[0]?.code, 1);
    assert.match(bare[0]?.message ?? '', /refused: wrong or missing job secret/);
    // A wrong secret (same length) first.
    const wrong = await rawExchange(server.port, [[StoreOp.auth, ['b'.repeat(64)]], ...INTRUSIONS]);
    assert.deepEqual(
      wrong.map((r) => r.code),
      [1],
    );
    // A stranger announcing a large frame is refused at once, not buffered.
    const huge = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: server.port });
      let got = '';
      socket.on('connect', () => socket.write(Buffer.from([0, 0, 0x10, 0, StoreOp.auth])));
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
    assert.match(huge, /refused: bad frame length 1048576/);
    const store = await Store.connect({ host: '127.0.0.1', port: server.port, secret: SECRET });
    for (const key of ['elastic/abort', 'elastic/joins', 'elastic/join/1', 'elastic/done'])
      assert.equal(await store.check([key]), false, `${key} was not written`);
    assert.equal(server.refused, 3);
    await assert.rejects(
      Store.connect({ host: '127.0.0.1', port: server.port, secret: 'wrong', timeoutMs: 10_000 }),
      /refused this worker: .*wrong or missing job secret.*DISTML_JOB_SECRET/,
    );
  });

  it('listens on loopback only when told 127.0.0.1', async (t) => {
    const server = await StoreServer.start({ host: '127.0.0.1', secret: SECRET });
    t.after(() => server.close());
    const hex = server.port.toString(16).toUpperCase().padStart(4, '0');
    const { readFileSync } = await import('node:fs');
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .filter((l) => l.includes(`:${hex} 00000000:0000 0A`));
    assert.deepEqual(
      listening.map((l) => l.trim().split(/\s+/)[1]),
      [`0100007F:${hex}`],
    );
  });

  it("serves c10d's store semantics to the addon's client", async (t) => {
    const server = await StoreServer.start({ host: '127.0.0.1', secret: SECRET });
    t.after(() => server.close());
    const a = await Store.connect({ host: '127.0.0.1', port: server.port, secret: SECRET });
    const b = await Store.connect({ host: '127.0.0.1', port: server.port, secret: SECRET });
    assert.equal(await a.add('n', 2), 2);
    assert.equal(await b.add('n', 3), 5);
    assert.equal(await a.get('n'), '5');
    assert.equal(await a.compareSet('c', '', 'x'), 'x', 'absent + empty expected sets it');
    assert.equal(await a.compareSet('c', 'y', 'z'), 'x', 'a mismatch returns the value now');
    assert.equal(await a.compareSet('c', 'x', 'z'), 'z');
    assert.equal(await a.compareSet('absent', 'e', 'z'), 'e');
    const waiting = a.get('later', 60_000);
    await b.set('later', 'v');
    assert.equal(await waiting, 'v', 'get waits for the key');
    await assert.rejects(a.get('never', 200), /COMM_STORE|waited 0.2 s for never/);
    assert.equal(await b.deleteKey('later'), true);
    assert.equal(await b.check(['later']), false);
    assert.equal(await b.tryGet('c'), 'z');
  });
});
