// What a faulty link does to the bytes it carries. A proxy has one mode, applied to both
// directions unless it is `perDirection`.

/** What happens to the bytes of one direction of a connection. */
export type DirectionMode =
  /** Forward as read. */
  | { readonly kind: 'pass' }
  /** Forward each chunk after delayMs plus a uniform random extra in [0, jitterMs]; order is kept, as in TCP. */
  | { readonly kind: 'delay'; readonly delayMs: number; readonly jitterMs: number }
  /**
   * Read and discard: the sender's writes succeed and nothing arrives, so the other side hears
   * silence until its own timeouts fire — a network partition. A stream that lost bytes can never
   * be resumed (TCP would not deliver a stream with a hole), so when its direction leaves
   * blackhole the connection is reset. New connections are accepted but not forwarded (no SYN
   * would get through); if they lost nothing, they are forwarded once the link heals.
   */
  | { readonly kind: 'blackhole' }
  /**
   * Stop reading: bytes wait in socket buffers and are delivered, in order, when the mode changes
   * — a partition that heals before TCP gives up, so the other side sees late, bunched traffic.
   */
  | { readonly kind: 'hold' };

export type LinkMode =
  | DirectionMode
  /** Reset every connection now, and every new one as soon as it is accepted. */
  | { readonly kind: 'drop' }
  /** Different modes per direction: client → target (requests) and target → client (replies). */
  | { readonly kind: 'perDirection'; readonly clientToTarget: DirectionMode; readonly targetToClient: DirectionMode };

export const Mode = {
  pass: { kind: 'pass' } as const satisfies LinkMode,
  drop: { kind: 'drop' } as const satisfies LinkMode,
  blackhole: { kind: 'blackhole' } as const satisfies LinkMode,
  hold: { kind: 'hold' } as const satisfies LinkMode,
  delay(delayMs: number, jitterMs = 0): DirectionMode {
    return { kind: 'delay', delayMs, jitterMs };
  },
  perDirection(clientToTarget: DirectionMode, targetToClient: DirectionMode): LinkMode {
    return { kind: 'perDirection', clientToTarget, targetToClient };
  },
} as const;

/** Throws on a mode a proxy cannot apply (negative or non-finite delays, unknown kinds). */
export function validateMode(mode: LinkMode): void {
  if (mode.kind === 'perDirection') {
    validateDirection(mode.clientToTarget);
    validateDirection(mode.targetToClient);
  } else if (mode.kind !== 'drop') {
    validateDirection(mode);
  }
}

function validateDirection(mode: DirectionMode): void {
  switch (mode.kind) {
    case 'pass':
    case 'blackhole':
    case 'hold':
      return;
    case 'delay':
      if (!(Number.isFinite(mode.delayMs) && mode.delayMs >= 0 && Number.isFinite(mode.jitterMs) && mode.jitterMs >= 0)) {
        throw new RangeError(`proxy: delay needs finite delayMs ≥ 0 and jitterMs ≥ 0, got ${mode.delayMs} and ${mode.jitterMs}`);
      }
      return;
    default:
      throw new RangeError(`proxy: unknown mode ${JSON.stringify(mode)}`);
  }
}

/** The modes of the two directions, or undefined for drop. */
export function directionModes(mode: LinkMode): { clientToTarget: DirectionMode; targetToClient: DirectionMode } | undefined {
  if (mode.kind === 'drop') return undefined;
  if (mode.kind === 'perDirection') return { clientToTarget: mode.clientToTarget, targetToClient: mode.targetToClient };
  return { clientToTarget: mode, targetToClient: mode };
}

/** Whether a connection could be set up through a link in these modes: TCP's handshake needs both directions. */
export function canConnect(modes: { clientToTarget: DirectionMode; targetToClient: DirectionMode }): boolean {
  const open = (m: DirectionMode): boolean => m.kind === 'pass' || m.kind === 'delay';
  return open(modes.clientToTarget) && open(modes.targetToClient);
}

/** `pass`, `delay 50±20ms`, `blackhole`, `c→t blackhole / t→c pass` … for logs. */
export function describeMode(mode: LinkMode): string {
  if (mode.kind === 'perDirection') return `c→t ${describeMode(mode.clientToTarget)} / t→c ${describeMode(mode.targetToClient)}`;
  if (mode.kind === 'delay') return mode.jitterMs > 0 ? `delay ${mode.delayMs}+[0,${mode.jitterMs}]ms` : `delay ${mode.delayMs}ms`;
  return mode.kind;
}
