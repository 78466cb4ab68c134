// tests/integration: express-session with connect-redis 7 over ioredis,
// unchanged, storing an Express app's sessions in Keel.
//
//   node express_sessions.js PORT...      (one port per node of a cluster)
//
// For every node N an Express app (on 127.0.0.1, an ephemeral port) keeps
// its sessions in a RedisStore whose ioredis client talks to node N only:
//   - create: a request logs in; connect-redis stores "sess:<sid>" with a
//     TTL from the cookie's maxAge (checked through ioredis);
//   - read and update through the app of the next node, with the cookie;
//   - the store's own all()/length()/ids() (SCAN + MGET) see the session;
//   - destroy: logout (req.session.destroy) deletes the key;
//   - expire: a 1 s cookie maxAge; the key is gone once its TTL has passed
//     (bounded poll) and the old cookie gets a fresh, empty session.
// Exit 0 when every check passed.
"use strict";
const express = require("express");
const session = require("express-session");
const RedisStore = require("connect-redis").default;
const Redis = require("ioredis");

const ports = process.argv.slice(2).map(Number);
const failures = [];
function check(cond, what) {
  if (!cond) {
    failures.push(what);
    console.log("FAIL: " + what);
  }
}

function client(port) {
  // No retries across nodes: this client must talk to node `port` only.
  return new Redis({ host: "127.0.0.1", port, lazyConnect: false, maxRetriesPerRequest: 2 });
}

async function makeApp(port, maxAge) {
  const redis = client(port);
  const store = new RedisStore({ client: redis, prefix: "sess:" });
  const app = express();
  app.use(session({ store, secret: "keel-test", resave: false, saveUninitialized: false,
                    cookie: { maxAge } }));
  app.get("/login/:user", (req, res) => {
    req.session.user = req.params.user;
    req.session.visits = (req.session.visits || 0) + 1;
    res.send("ok");
  });
  app.get("/visit", (req, res) => {
    req.session.visits = (req.session.visits || 0) + 1;
    res.send(`${req.session.user || ""}:${req.session.visits}`);
  });
  app.get("/whoami", (req, res) => res.send(`${req.session.user || ""}:${req.session.visits || 0}`));
  app.get("/logout", (req, res) => req.session.destroy((err) => res.send(err ? "error " + err : "bye")));
  const server = await new Promise((resolve) => { const s = app.listen(0, "127.0.0.1", () => resolve(s)); });
  return { url: `http://127.0.0.1:${server.address().port}`, server, redis, store };
}

async function get(app, path, cookie) {
  const res = await fetch(app.url + path, { headers: cookie ? { cookie } : {} });
  const body = await res.text();
  const set = res.headers.get("set-cookie");
  return { status: res.status, body, cookie: set ? set.split(";")[0] : null };
}

function promisify(store, method, ...args) {
  return new Promise((resolve, reject) => store[method](...args, (err, v) => (err ? reject(err) : resolve(v))));
}

async function main() {
  const apps = [];
  for (const p of ports) apps.push(await makeApp(p, 3600 * 1000));
  const n = ports.length;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n, user = `user${i}`;
    let r = await get(apps[i], `/login/${user}`);
    check(r.status === 200 && r.cookie, `node ${ports[i]}: login set no cookie (${r.status} ${r.body})`);
    if (!r.cookie) continue;
    const cookie = r.cookie;
    const sid = decodeURIComponent(cookie.split("=")[1]).slice(2).split(".")[0];
    const key = "sess:" + sid;
    const ttl = await apps[i].redis.ttl(key);
    check(ttl > 3500 && ttl <= 3600, `node ${ports[i]}: TTL of ${key} is ${ttl}`);
    check((await apps[j].redis.exists(key)) === 1, `node ${ports[j]}: ${key} not there`);
    r = await get(apps[j], "/whoami", cookie);
    check(r.body === `${user}:1`, `node ${ports[j]} read ${r.body}`);
    r = await get(apps[j], "/visit", cookie);
    check(r.body === `${user}:2`, `update through node ${ports[j]}: ${r.body}`);
    r = await get(apps[i], "/whoami", cookie);
    check(r.body === `${user}:2`, `node ${ports[i]} after the update: ${r.body}`);
    const all = await promisify(apps[j].store, "all");
    check(all.some((s) => s.user === user && s.visits === 2), `store.all() on node ${ports[j]}: ${JSON.stringify(all)}`);
    const ids = await promisify(apps[i].store, "ids");
    check(ids.includes(sid), `store.ids() on node ${ports[i]} lacks ${sid}`);
    const len = await promisify(apps[i].store, "length");
    check(len === ids.length && len >= 1, `store.length() ${len}, ids ${ids.length}`);
    r = await get(apps[j], "/logout", cookie);
    check(r.body === "bye", `logout through node ${ports[j]}: ${r.body}`);
    check((await apps[i].redis.exists(key)) === 0, `node ${ports[i]}: ${key} still there after logout`);
    r = await get(apps[i], "/whoami", cookie);
    check(r.body === ":0", `node ${ports[i]} after logout: ${r.body}`);

    const short = await makeApp(ports[i], 1000);
    r = await get(short, "/login/brief");
    const skey = "sess:" + decodeURIComponent(r.cookie.split("=")[1]).slice(2).split(".")[0];
    const pttl = await apps[j].redis.pttl(skey);
    check(pttl > 0 && pttl <= 1000, `node ${ports[j]}: PTTL of the 1 s session is ${pttl}`);
    const deadline = Date.now() + 10000;
    while ((await apps[j].redis.exists(skey)) === 1 && Date.now() < deadline) await new Promise((s) => setTimeout(s, 50));
    check((await apps[j].redis.exists(skey)) === 0, `node ${ports[j]}: the 1 s session outlived 10 s`);
    r = await get(apps[j], "/whoami", r.cookie);
    check(r.body === ":0", `expired session read back as ${r.body}`);
    short.server.close();
    short.redis.disconnect();
  }
  await promisify(apps[0].store, "clear");
  check((await promisify(apps[1 % n].store, "length")) === 0, "store.clear() left sessions");
  for (const a of apps) { a.server.close(); a.redis.disconnect(); }
  console.log(`express-session: ${n} nodes, ${failures.length} failures`);
  process.exit(failures.length ? 1 : 0);
}
main().catch((e) => { console.log("FAIL: " + (e && e.stack || e)); process.exit(1); });
