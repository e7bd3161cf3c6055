import { ArborError, ErrorCode } from './errors.js';

/**
 * The `digest` ACL scheme's identities, as ZooKeeper's DigestAuthenticationProvider makes them:
 * `user:base64(sha1("user:password"))`. SHA-1 is computed here, synchronously and without
 * node:crypto or WebCrypto (which is asynchronous), so that browsers, the client and the pure
 * parts of the member produce the same id. SHA-1 is what ZooKeeper uses and what its existing
 * ACLs hold; it is not offered as a strong password hash.
 */

/** 'alice', 'secret' → 'alice:<base64 of sha1("alice:secret")>'. The user must be non-empty and hold no ':'. */
export function digestId(user: string, password: string): string {
  if (user.length === 0 || user.includes(':')) {
    throw new ArborError(ErrorCode.BADARGUMENTS, `a digest user must be non-empty and hold no ':', not '${user}'`);
  }
  return `${user}:${bytesToBase64(sha1(new TextEncoder().encode(`${user}:${password}`)))}`;
}

/**
 * The identity an addAuth('digest', credentials) earns: credentials are UTF-8 `user:password`,
 * split at the first ':'. Undefined when there is no ':' or the user is empty (the member then
 * fails the request with AUTHFAILED). Equal to digestId(user, password) for the same text.
 */
export function digestIdFromCredentials(credentials: Uint8Array): string | undefined {
  const colon = credentials.indexOf(0x3a);
  if (colon <= 0) return undefined;
  const user = new TextDecoder().decode(credentials.subarray(0, colon));
  return `${user}:${bytesToBase64(sha1(credentials))}`;
}

// ---------------------------------------------------------------------------------------------
// SHA-1, FIPS 180-4 section 6.1.

/** SHA-1 of the bytes (20 bytes). */
export function sha1(message: Uint8Array): Uint8Array {
  // Padding: 0x80, zeros, then the length in bits as a 64-bit big-endian integer, to a multiple of 64 bytes.
  const blocks = Math.ceil((message.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = message.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(padded.length - 4, bits >>> 0);

  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++)
      w[t] = rotl((w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number), 1);
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (rotl(a, 5) + f + e + k + (w[t] as number)) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => outView.setUint32(i * 4, h));
  return out;
}

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Base64, RFC 4648 section 4 (standard alphabet, with padding), as Java's Base64 encoder writes it.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += ALPHABET.charAt(n >>> 18) + ALPHABET.charAt((n >>> 12) & 63) + ALPHABET.charAt((n >>> 6) & 63) + ALPHABET.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += ALPHABET.charAt(n >>> 18) + ALPHABET.charAt((n >>> 12) & 63) + '==';
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += ALPHABET.charAt(n >>> 18) + ALPHABET.charAt((n >>> 12) & 63) + ALPHABET.charAt((n >>> 6) & 63) + '=';
  }
  return out;
}
