// Where the Envoy binary is: $ENVOY_BIN, the project's .venv (scripts/install-envoy.sh), or PATH.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export function findEnvoy(): string | undefined {
  const fromEnv = process.env['ENVOY_BIN'];
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  const venv = path.join(projectRoot(), '.venv', 'bin', 'envoy-bin');
  if (fs.existsSync(venv)) return venv;
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'envoy');
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}
