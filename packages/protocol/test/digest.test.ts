import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArborError, bytesToBase64, digestId, digestIdFromCredentials, sha1, validateAcl } from '@arbor/protocol';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('sha1', () => {
  // FIPS 180-2 appendix A and the NIST example values.
  it.each([
    ['', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
    ['abc', 'a9993e364706816aba3e25717850c26c9cd0d89d'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '84983e441c3bd26ebaae4aa1f95129e5e54670f1'],
    ['a'.repeat(1_000_000), '34aa973cd4c4daa4f61eeb2bdbad27316534016f'],
  ])('of the FIPS vector %#', (text, digest) => {
    expect(hex(sha1(utf8(text)))).toBe(digest);
  });
  it('agrees with node:crypto at every length around the block boundaries', () => {
    for (let n = 0; n <= 130; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      expect(hex(sha1(bytes))).toBe(createHash('sha1').update(bytes).digest('hex'));
    }
  });
  it('agrees with node:crypto on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(hex(sha1(bytes))).toBe(createHash('sha1').update(bytes).digest('hex'));
      }),
      { numRuns: 200 },
    );
  });
});

describe('bytesToBase64', () => {
  it('agrees with Buffer on any bytes (RFC 4648, padded)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
      { numRuns: 200 },
    );
  });
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foobar', 'Zm9vYmFy'],
  ])('RFC 4648 section 10: %j', (text, encoded) => expect(bytesToBase64(utf8(text))).toBe(encoded));
});

describe('digestId', () => {
  it("matches ZooKeeper's: super:test is the superDigest its own tests configure", () => {
    // apache/zookeeper tests set zookeeper.DigestAuthenticationProvider.superDigest to this, "password is 'test'".
    expect(digestId('super', 'test')).toBe('super:D/InIHSb7yEEbrWz8b9l71RjZJU=');
  });
  it('is user:base64(sha1(user:password)) in UTF-8, and a valid digest ACL id', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 10 }).filter((u) => !u.includes(':')),
        fc.string({ maxLength: 20 }),
        (user, password) => {
          const id = digestId(user, password);
          expect(id).toBe(`${user}:${createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64')}`);
          expect(() => validateAcl([{ perms: 1, id: { scheme: 'digest', id } }])).not.toThrow();
          expect(digestIdFromCredentials(utf8(`${user}:${password}`))).toBe(id);
        },
      ),
      { numRuns: 100 },
    );
  });
  it('refuses a user that is empty or holds a colon', () => {
    expect(() => digestId('', 'pw')).toThrow(ArborError);
    expect(() => digestId('a:b', 'pw')).toThrow(/hold no ':'/);
  });
  it('from credentials: split at the first colon; none, or an empty user, earns nothing', () => {
    expect(digestIdFromCredentials(utf8('bob:pa:ss'))).toBe(digestId('bob', 'pa:ss'));
    expect(digestIdFromCredentials(utf8('bob'))).toBeUndefined();
    expect(digestIdFromCredentials(utf8(':pw'))).toBeUndefined();
    expect(digestIdFromCredentials(utf8('bob:'))).toBe(digestId('bob', ''));
  });
});
