/**
 * The command line's grammar: its commands with a one-line description each, their options, the
 * usage texts, the version, and what an argument list asks for — help (stdout, exit 0), the version,
 * a command to run with its parsed options, or a usage error that names the unknown command, option
 * or argument (stderr, exit 2). No I/O beyond reading package.json: service/cli.ts acts on the result.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  summary: string;
  usage: string;
  options: Options;
}

const BACKTEST_USAGE = `usage: tokenwatch backtest --from <time> --to <time> [--config <file>] [--warmup <duration>]
                          [--samples <n>] [--format markdown|json] [--output <file>]
  <time>: RFC 3339 (2026-11-01T00:00:00Z) or epoch milliseconds
  <duration>: seconds, or with a unit: 90s, 30m, 1h, 14d (default 1h: state before --from)
  --config: detector settings file (thresholds, tenants, dryRun); default: TOKENWATCH_DETECT_CONFIG
  --samples: example findings per detector in the report (default 3)
  --output: write the report to this file instead of stdout
  ClickHouse: the service's settings (TOKENWATCH_CLICKHOUSE_URL, TOKENWATCH_CLICKHOUSE_DATABASE, …).`;

const SETTINGS = 'Settings: TOKENWATCH_* environment variables (docs/configuration.md).';

export const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'run the service: HTTP and Kafka ingest, detectors, response (the default command)',
    usage: `usage: tokenwatch serve\n  Runs until SIGINT/SIGTERM, then stores what it buffered. ${SETTINGS}`,
    options: {},
  },
  migrate: {
    summary: 'apply the ClickHouse migrations and exit',
    usage: `usage: tokenwatch migrate\n  Creates the database and applies the versioned migrations it lacks. ${SETTINGS}`,
    options: {},
  },
  schema: {
    summary: 'print the event contract v1 as JSON Schema',
    usage:
      'usage: tokenwatch schema\n  Prints the JSON Schema of one event (contract/schemas/event-v1.schema.json) on stdout.',
    options: {},
  },
  backtest: {
    summary: 'run stored events through the detectors and report what would have fired',
    usage: BACKTEST_USAGE,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      config: { type: 'string' },
      warmup: { type: 'string', default: '1h' },
      samples: { type: 'string', default: '3' },
      format: { type: 'string', default: 'markdown' },
      output: { type: 'string' },
    },
  },
  'keycloak-poll': {
    summary:
      "poll a Keycloak realm's stored events and report them to tokenwatch (instead of the listener jar)",
    usage:
      'usage: tokenwatch keycloak-poll [--once]\n' +
      '  Reads GET /admin/realms/{realm}/events every TOKENWATCH_KEYCLOAK_POLL_INTERVAL_MS and reports new events to\n' +
      '  TOKENWATCH_KEYCLOAK_POLL_REPORT_URL; the cursor is kept in TOKENWATCH_KEYCLOAK_POLL_STATE_FILE.\n' +
      '  --once: one poll, then exit (0: polled, 1: failed). ' +
      'Settings: the Keycloak sections of docs/configuration.md (docs/auth-servers.md).',
    options: { once: { type: 'boolean', default: false } },
  },
  help: {
    summary: "show this help, or a command's: tokenwatch help <command>",
    usage: "usage: tokenwatch help [command]\n  Shows the commands, or one command's options.",
    options: {},
  },
};

/** package.json's version. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: tokenwatch [command] [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'options:',
    "  -h, --help     show this help; tokenwatch <command> --help shows that command's",
    '  -v, --version  print the version',
    '',
    SETTINGS,
  ].join('\n');
}

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export type Invocation =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'run'; command: string; values: OptionValues }
  | { kind: 'error'; message: string; usage: string };

const HELP = new Set(['-h', '--help']);

/** parseArgs' messages, in the CLI's words, naming the option or argument. */
function parseError(err: Error & { code?: string }): string {
  const named = /'([^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${named}`;
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return `unexpected argument ${JSON.stringify(named)}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `${named ?? 'an option'} needs a value`;
  return err.message;
}

/** What the arguments after `tokenwatch` ask for. */
export function invocation(argv: string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'run', command: 'serve', values: {} };
  if (first === '-v' || first === '--version') return { kind: 'version', text: version() };
  if (HELP.has(first) || first === 'help') {
    const topic = rest.find((a) => !HELP.has(a));
    if (topic === undefined) return { kind: 'help', text: usage() };
    const command = COMMANDS[topic];
    if (command === undefined)
      return {
        kind: 'error',
        message: `no command ${JSON.stringify(topic)} to show help for`,
        usage: usage(),
      };
    return { kind: 'help', text: command.usage };
  }
  const command = COMMANDS[first];
  if (command === undefined)
    return {
      kind: 'error',
      message: first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`,
      usage: usage(),
    };
  if (rest.some((a) => HELP.has(a))) return { kind: 'help', text: command.usage };
  try {
    const { values } = parseArgs({
      args: rest,
      options: command.options,
      strict: true,
      allowPositionals: false,
    });
    return { kind: 'run', command: first, values };
  } catch (err) {
    return { kind: 'error', message: `${first}: ${parseError(err as Error)}`, usage: command.usage };
  }
}
