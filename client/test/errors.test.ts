import { describe, expect, it } from 'vitest';
import { ErrorCode, NoNodeError, BadArgumentsError, errorFor } from '../src/index.js';

describe('error messages', () => {
  it('name the operation and the caller’s path once, even when the member named them too', () => {
    // The member's message carries the op and its own path (with the chroot).
    const error = errorFor(ErrorCode.NONODE, 'getData /app/nope: node does not exist', { op: 'getData', path: '/nope' });
    expect(error).toBeInstanceOf(NoNodeError);
    expect(error.message).toBe('getData /nope: node does not exist');
    const invalid = errorFor(ErrorCode.BADARGUMENTS, "create: path: empty segment at index 3 of '/a//b'", { op: 'create', path: '/a//b' });
    expect(invalid).toBeInstanceOf(BadArgumentsError);
    expect(invalid.message).toBe("create /a//b: path: empty segment at index 3 of '/a//b'");
  });

  it('keep a message that does not start with the operation as it is', () => {
    expect(errorFor(ErrorCode.NONODE, 'node does not exist', { op: 'getData', path: '/x' }).message).toBe(
      'getData /x: node does not exist',
    );
    expect(errorFor(ErrorCode.NONODE, 'getDataX: odd', { op: 'getData', path: '/x' }).message).toBe('getData /x: getDataX: odd');
    expect(errorFor(ErrorCode.NONODE, undefined, { op: 'getData', path: '/x' }).message).toBe('getData /x: the node does not exist');
    expect(errorFor(ErrorCode.NONODE, 'plain').message).toBe('plain');
  });
});
