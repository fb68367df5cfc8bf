#!/usr/bin/env node
// meshgate command line: one file per command.
import { UsageError } from './args.js';
import { bootstrapCommand } from './bootstrap.js';
import { caCommand } from './ca.js';
import { renderCommand } from './render.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { validateCommand } from './validate.js';

const USAGE = `Usage: meshgate <command> [options]

Commands:
  serve      serve Envoy configuration over xDS and watch the input for changes
  validate   check a model file: every error with file:line:column (exit 0 or 1)
  render     print the exact Envoy resources one proxy receives
  bootstrap  print a complete Envoy bootstrap for one proxy
  status     show each connected proxy's sync state (from the admin API)
  ca rotate  rotate the root CA of a running meshgate with no failed handshakes

Run "meshgate <command> --help" for a command's options.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: serveCommand,
  validate: validateCommand,
  render: renderCommand,
  bootstrap: bootstrapCommand,
  status: statusCommand,
  ca: caCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`meshgate: unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`meshgate: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`meshgate: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
