// Errors, below everything that throws them. The API throws TypeError for a wrong kind of
// argument and RangeError for a value outside what is accepted, each with a stable `code`; the
// CLI reports a CliError as one line on stderr and exits with its code (the README's table:
// 0 ok, 1 bad input data or I/O, 2 usage, 130 interrupted).

/** An error with the stable `code` that trendflex errors carry (`ERR_PERIOD`, `ERR_OVERLAP`, ...). */
export type CodedError = Error & { code: string }

export function typeError(code: string, message: string): CodedError {
  return Object.assign(new TypeError(message), { code })
}

export function rangeError(code: string, message: string): CodedError {
  return Object.assign(new RangeError(message), { code })
}

export const EXIT = { ok: 0, data: 1, usage: 2, interrupted: 130 } as const

/** An error the CLI reports as one line on stderr and turns into an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage)
export const dataError = (message: string) => new CliError(message, EXIT.data)

/** A --follow session ended by a signal, after writing what it read: exit with the signal's code
 * (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), quietly. */
export class Interrupted extends CliError {
  constructor(exitCode: number) {
    super('interrupted', exitCode)
  }
}

/** A closed pipe on our output: the reader has what it wanted, so the run ends quietly with 0. */
export class BrokenPipe extends CliError {
  constructor() {
    super('the reader of the output went away', EXIT.ok)
  }
}

/** Maps errors from the API, the addon and Node's I/O to CLI errors with the right exit code. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error
  const e = error as { code?: string; message?: string; path?: string; syscall?: string }
  const message = e?.message ?? String(error)
  switch (e?.code) {
    case 'ERR_UNKNOWN_KERNEL':
    case 'ERR_KERNEL_UNAVAILABLE':
    case 'ERR_PERIOD':
    case 'ERR_PERIOD_RANGE':
    case 'ERR_EMPTY_PERIODS':
    case 'ERR_THREADS':
      return usageError(message)
    case 'ERR_DELIMITER':
      return usageError(`--delimiter: ${message}`)
    case 'EPIPE':
      return new BrokenPipe()
    case 'ENOENT':
      return dataError(`${e.path ?? 'file'}: no such file or directory`)
    case 'EACCES':
    case 'EPERM':
      return dataError(e.path ? `${e.path}: permission denied` : message)
    case 'EISDIR':
      return dataError(`${e.path ?? 'path'}: is a directory`)
    case 'ENOSPC':
      return dataError(e.path ? `${e.path}: no space left on device` : message)
    default:
      return Object.assign(dataError(message), { cause: error })
  }
}
