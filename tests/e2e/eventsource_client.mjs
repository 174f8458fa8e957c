// A standard EventSource client (the npm `eventsource` package, v4) on assentd's
// GET /events, for tests/e2e/test_eventsource.py.
//
//   node eventsource_client.mjs URL TOKEN_FILE
//
// Prints one JSON line per happening on stdout, each with `t` (ms since the epoch):
//   {"kind":"connect","last_event_id":null|"N"}  every connection attempt (from `fetch`)
//   {"kind":"open"}                              the stream answered 200
//   {"kind":"event","type":T,"id":"N"|"","data":{…}}  each event of a type in the spec
//   {"kind":"error","message":…,"code":…}        a drop or a failed attempt
// Reconnecting (delay from the stream's `retry:` field, resuming with Last-Event-ID) is
// the package's own behaviour: this script only adds our two headers through the
// documented `fetch` option and records what it sees. It runs until stdin closes.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const {EventSource} = await import(join(repo, 'scripts', 'node_modules', 'eventsource', 'dist', 'index.js'));

const [url, tokenFile] = process.argv.slice(2);
if (!url || !tokenFile) {
  process.stderr.write('usage: node eventsource_client.mjs URL TOKEN_FILE\n');
  process.exit(2);
}
const token = readFileSync(tokenFile, 'utf8').trim();
// Every event type the spec defines: EventSource dispatches a named event only to the
// listeners registered for that name.
const spec = JSON.parse(readFileSync(join(repo, 'spec', 'openrpc.json'), 'utf8'));
const types = Object.keys(spec['x-events']);

const emit = (line) => process.stdout.write(JSON.stringify({...line, t: Date.now()}) + '\n');

const es = new EventSource(url, {
  fetch: (input, init) => {
    const headers = {...init.headers, Authorization: `Bearer ${token}`, 'Assent-Api-Version': '1'};
    emit({kind: 'connect', last_event_id: headers['Last-Event-ID'] ?? null});
    return fetch(input, {...init, headers});
  },
});
es.addEventListener('open', () => emit({kind: 'open'}));
es.addEventListener('error', (e) => emit({kind: 'error', message: e.message ?? null, code: e.code ?? null}));
for (const type of [...types, 'message']) {
  es.addEventListener(type, (e) => {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      data = {unparsed: e.data};
    }
    emit({kind: 'event', type, id: e.lastEventId, data});
  });
}
process.stdin.on('end', () => {
  es.close();
  process.exit(0);
});
process.stdin.resume();
