/** Exit codes of `acr-access`, documented in `--help` and the README. */
export const EXIT = {
  /** Everything rendered (or the operator stopped cleanly). */
  ok: 0,
  /** A resource was refused (the operator would set Stalled) or could not be resolved; the others were printed. */
  failed: 1,
  /** The command line or the input as a whole is wrong: unknown flag, bad value, unreadable or oversized input. */
  usage: 2,
  /** A document is not a valid AcrAccess/ClusterAcrAccess (YAML syntax, schema or CEL rule): nothing is printed. */
  invalid: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  a resource was refused (Stalled) or could not be resolved; the others are printed
  2  usage or input error (bad flag value, unreadable, oversized or empty input)
  3  invalid resource (YAML syntax, schema or CEL rule); nothing is printed`;

/** An error the CLI reports as `error: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);
