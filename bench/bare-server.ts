import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The bare reference: node:http answering the bytes idgraph answered, chosen by
// a substring of the request body; no GraphQL, no database.
// argv[2] is a JSON file of {substring: answer}; "-" answers every request with $BARE_BODY.
const answers =
  process.argv[2] === '-'
    ? { '': process.env.BARE_BODY ?? '{}' }
    : (JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as Record<string, string>);

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const key = Object.keys(answers).find((k) => body.includes(k)) ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(answers[key] ?? '{}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
