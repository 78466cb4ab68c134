// tests/integration: ioredis over TLS as an ACL user on every node (run by
// test_clients_tls_acl through ioredis_acl.sh, which installs the pinned
// ioredis). Usage: node ioredis_acl.js CERT_DIR USER PASSWORD PORT...
// The user may read and write ~app:* and nothing else. Exits 0 when every
// check passed; otherwise prints the failed one and exits 1.
'use strict';
const fs = require('fs');
const Redis = require('ioredis');

const [dir, user, password, ...ports] = process.argv.slice(2);

function client(port, pass) {
  return new Redis({
    host: '127.0.0.1', port: Number(port), username: user, password: pass, lazyConnect: true,
    maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
    enableReadyCheck: false, // the ready check sends INFO, which the user may not run
    tls: {
      ca: fs.readFileSync(`${dir}/ca.crt`), cert: fs.readFileSync(`${dir}/client-app.crt`),
      key: fs.readFileSync(`${dir}/client-app.key`),
    },
  });
}

async function refused(what, p, want) {
  try {
    await p;
  } catch (e) {
    if (!String(e.message).includes(want)) throw new Error(`${what}: ${e.message} (want ${want})`);
    return;
  }
  throw new Error(`${what}: allowed`);
}

async function main() {
  for (const port of ports) {
    const where = `ioredis, port ${port}`;
    // ioredis reports the refused AUTH as an 'error' event (the connect
    // itself may resolve, the ready check being off); nothing is served.
    const bad = client(port, 'wrong');
    const seen = [];
    bad.on('error', (e) => seen.push(String(e.message)));
    try {
      await bad.connect();
      if (await bad.ping() === 'PONG') throw new Error(`${where}: a wrong password was served`);
    } catch (e) {
      if (String(e.message).includes('was served')) throw e;
      seen.push(String(e.message));
    }
    bad.disconnect();
    if (!seen.some((m) => m.includes('WRONGPASS'))) throw new Error(`${where}: wrong password: ${seen.join('; ')}`);
    const r = client(port, password);
    r.on('error', () => {});
    await r.connect();
    if (await r.set(`app:io:${port}`, 'v') !== 'OK') throw new Error(`${where}: SET`);
    if (await r.get(`app:io:${port}`) !== 'v') throw new Error(`${where}: GET`);
    if (await r.incr('app:io:counter') < 1) throw new Error(`${where}: INCR`);
    await refused(`${where}: GET other`, r.get('other'), 'NOPERM');
    await refused(`${where}: KEEL.MEMBER LIST`, r.call('KEEL.MEMBER', 'LIST'), 'NOPERM');
    await refused(`${where}: CONFIG SET`, r.config('SET', 'loglevel', 'debug'), 'NOPERM');
    r.disconnect();
  }
  console.log(`ioredis ${require('ioredis/package.json').version} over TLS as ${user}: ok on ${ports.length} nodes`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
