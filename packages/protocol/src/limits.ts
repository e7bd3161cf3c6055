/**
 * Limits a member enforces, advertised in the handshake so that a client fails fast and
 * clearly instead of looping. Every one is a member setting; these are the defaults.
 */
export interface Limits {
  /** Largest frame either side may send: the data limit plus room for path, ACL and header. */
  frameBytesMax: number;
  /** Largest data of one znode. */
  dataBytesMax: number;
  pathLengthMax: number;
  multiOpsMax: number;
  /** Requests a connection may have unanswered; more are refused with THROTTLED. */
  outstandingRequestsMax: number;
  watchesPerConnectionMax: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  frameBytesMax: 1024 * 1024 + 64 * 1024,
  dataBytesMax: 1024 * 1024,
  pathLengthMax: 4096,
  multiOpsMax: 1000,
  outstandingRequestsMax: 1000,
  watchesPerConnectionMax: 100_000,
});
