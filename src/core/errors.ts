// One error type decides exit codes (the table in the README): 0 ok, 1 bad input data or I/O,
// 2 usage, 130 interrupted.

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
    case 'ENOENT':
      return dataError(`${e.path ?? 'file'}: no such file or directory`)
    case 'EACCES':
    case 'EPERM':
      return dataError(`${e.path ?? 'file'}: permission denied`)
    case 'EISDIR':
      return dataError(`${e.path ?? 'path'}: is a directory`)
    case 'ENOSPC':
      return dataError(`no space left on device${e.path ? ` writing ${e.path}` : ''}`)
    default:
      return Object.assign(dataError(message), { cause: error })
  }
}
