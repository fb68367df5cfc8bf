// Entry point for one demo app process (used by compose.yaml):
//   node dist/src/demo/demo-app-main.js --service users --instance users-v1-a --version v1 \
//     --listen 127.0.0.1:9101 [--outbound-port 15201]
import { parseArgs } from 'node:util';
import { startDemoApp } from './demo-app.js';

const { values } = parseArgs({
  options: {
    service: { type: 'string' },
    instance: { type: 'string' },
    version: { type: 'string', default: '' },
    listen: { type: 'string', default: '127.0.0.1:8080' },
    'outbound-port': { type: 'string' },
  },
});
if (!values.service || !values.instance) {
  process.stderr.write('usage: demo-app-main --service NAME --instance ID [--version V] [--listen HOST:PORT] [--outbound-port N]\n');
  process.exit(2);
}
const i = values.listen!.lastIndexOf(':');
await startDemoApp({
  service: values.service,
  instance: values.instance,
  version: values.version!,
  host: values.listen!.slice(0, i),
  port: Number(values.listen!.slice(i + 1)),
  outboundPort: values['outbound-port'] ? Number(values['outbound-port']) : null,
});
process.stdout.write(`demo app ${values.instance} listening on ${values.listen}\n`);
