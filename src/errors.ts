// Errors the JS API throws before any native work: TypeError for a wrong kind of argument,
// RangeError for a value outside what is accepted. Each carries a stable `code`.

/** An error with the stable `code` that trendflex errors carry (`ERR_PERIOD`, `ERR_OVERLAP`, ...). */
export type CodedError = Error & { code: string }

export function typeError(code: string, message: string): CodedError {
  return Object.assign(new TypeError(message), { code })
}

export function rangeError(code: string, message: string): CodedError {
  return Object.assign(new RangeError(message), { code })
}
