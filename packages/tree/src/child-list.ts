import { AssertionError } from './assert.js';

/**
 * The children of one znode: name → node id, kept in name order (UTF-16 code unit order, what
 * `<` on strings gives) so that a page of children is a binary search and a short walk, never a
 * copy or a sort of the whole list.
 *
 * Layout: pairs `[name0, id0, name1, id1, …]` in one flat array while the list is small (most
 * parents: one array, no per-child objects). Past SUBLIST_PAIRS_MAX pairs it becomes a list of
 * sorted sublists plus the last name of each (the "sorted list of lists" of Python's
 * sortedcontainers): lookups are two binary searches, an insert or delete moves at most one
 * sublist's worth of slots, so a parent with millions of children pages fast and filling it is
 * O(n log n), not quadratic.
 *
 * The list also holds the parent's sequential counter (`creations`): successful child creations
 * of any mode, which deletes never lower (SEMANTICS.md, Create).
 */

type Pairs = (string | number)[];

/** Largest sublist, in pairs. A split leaves two halves; a shrunken sublist merges with a neighbour. */
export const SUBLIST_PAIRS_MAX = 512;
const SUBLIST_PAIRS_MIN = SUBLIST_PAIRS_MAX / 8;

/** Index of the first pair whose name is >= name (`strict`: > name), in [0, pairs/2]. */
function lowerBound(pairs: Pairs, name: string, strict: boolean): number {
  let lo = 0;
  let hi = pairs.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const key = pairs[mid << 1] as string;
    if (key < name || (strict && key === name)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first max that is >= name (`strict`: > name), in [0, maxes.length]. */
function lowerBoundMax(maxes: string[], name: string, strict: boolean): number {
  let lo = 0;
  let hi = maxes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const key = maxes[mid]!;
    if (key < name || (strict && key === name)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ChildList {
  size = 0;
  /** Successful child creations ever: the next sequential suffix. */
  creations = 0;
  /** Small form: all pairs in one array. Null in the large form. */
  private small: Pairs | null = [];
  /** Large form: sorted sublists, each non-empty, and the last name of each. */
  private subs: Pairs[] | null = null;
  private maxes: string[] | null = null;

  /** The id stored under name, or -1. */
  get(name: string): number {
    let pairs: Pairs;
    if (this.small !== null) {
      pairs = this.small;
    } else {
      const i = lowerBoundMax(this.maxes!, name, false);
      if (i === this.subs!.length) return -1;
      pairs = this.subs![i]!;
    }
    const j = lowerBound(pairs, name, false) << 1;
    return j < pairs.length && pairs[j] === name ? (pairs[j + 1] as number) : -1;
  }

  /** Adds a name that is not present. */
  insert(name: string, id: number): void {
    if (this.small !== null) {
      const j = lowerBound(this.small, name, false) << 1;
      if (this.small[j] === name) throw new AssertionError(`child '${name}' inserted twice`);
      if (j === this.small.length) this.small.push(name, id);
      else this.small.splice(j, 0, name, id);
      this.size++;
      if (this.size > SUBLIST_PAIRS_MAX) this.toLarge();
      return;
    }
    const subs = this.subs!;
    const maxes = this.maxes!;
    let i = lowerBoundMax(maxes, name, false);
    if (i === subs.length) i--;
    const pairs = subs[i]!;
    const j = lowerBound(pairs, name, false) << 1;
    if (pairs[j] === name) throw new AssertionError(`child '${name}' inserted twice`);
    if (j === pairs.length) {
      pairs.push(name, id);
      maxes[i] = name;
    } else {
      pairs.splice(j, 0, name, id);
    }
    this.size++;
    if (pairs.length > SUBLIST_PAIRS_MAX * 2) {
      const upper = pairs.splice(SUBLIST_PAIRS_MAX, pairs.length - SUBLIST_PAIRS_MAX);
      subs.splice(i + 1, 0, upper);
      maxes.splice(i, 0, pairs[pairs.length - 2] as string);
    }
  }

  /**
   * Adds a name greater than every present one, or returns false (the snapshot reader's fast
   * path, which also proves the names arrive in order).
   */
  append(name: string, id: number): boolean {
    if (this.size > 0 && !(name > this.lastName())) return false;
    if (this.small !== null) {
      this.small.push(name, id);
      this.size++;
      if (this.size > SUBLIST_PAIRS_MAX) this.toLarge();
      return true;
    }
    const subs = this.subs!;
    const last = subs[subs.length - 1]!;
    if (last.length >= SUBLIST_PAIRS_MAX * 2) {
      subs.push([name, id]);
      this.maxes!.push(name);
    } else {
      last.push(name, id);
      this.maxes![subs.length - 1] = name;
    }
    this.size++;
    return true;
  }

  /** Removes a present name and returns its id. */
  remove(name: string): number {
    if (this.small !== null) {
      const j = lowerBound(this.small, name, false) << 1;
      if (this.small[j] !== name) throw new AssertionError(`child '${name}' removed but absent`);
      const id = this.small[j + 1] as number;
      this.small.splice(j, 2);
      this.size--;
      return id;
    }
    const subs = this.subs!;
    const maxes = this.maxes!;
    const i = lowerBoundMax(maxes, name, false);
    const pairs = subs[i];
    if (pairs === undefined) throw new AssertionError(`child '${name}' removed but absent`);
    const j = lowerBound(pairs, name, false) << 1;
    if (pairs[j] !== name) throw new AssertionError(`child '${name}' removed but absent`);
    const id = pairs[j + 1] as number;
    pairs.splice(j, 2);
    this.size--;
    if (pairs.length === 0) {
      subs.splice(i, 1);
      maxes.splice(i, 1);
    } else {
      maxes[i] = pairs[pairs.length - 2] as string;
      if (pairs.length < SUBLIST_PAIRS_MIN * 2) this.mergeAt(i);
    }
    if (this.size <= SUBLIST_PAIRS_MAX / 2) this.toSmall();
    return id;
  }

  /** Names in order: all of them, or a page strictly after `after` of at most `limit`. */
  page(after: string | undefined, limit: number): { names: string[]; more: boolean } {
    const names: string[] = [];
    const cursor = this.cursor(after);
    while (names.length < limit && cursor.next()) names.push(cursor.name);
    return { names, more: names.length === limit && cursor.next() };
  }

  /** A cursor over the pairs in name order, starting strictly after `after` when given. */
  cursor(after?: string): ChildCursor {
    const lists = this.small !== null ? [this.small] : this.subs!;
    if (after === undefined) return new ChildCursor(lists, 0, 0);
    let i = 0;
    if (this.maxes !== null) i = lowerBoundMax(this.maxes, after, true);
    const j = i < lists.length ? lowerBound(lists[i]!, after, true) << 1 : 0;
    return new ChildCursor(lists, i, j);
  }

  private lastName(): string {
    if (this.small !== null) return this.small[this.small.length - 2] as string;
    return this.maxes![this.maxes!.length - 1]!;
  }

  private toLarge(): void {
    const all = this.small!;
    const subs: Pairs[] = [];
    const half = SUBLIST_PAIRS_MAX;
    for (let k = 0; k < all.length; k += half) subs.push(all.slice(k, k + half));
    this.subs = subs;
    this.maxes = subs.map((p) => p[p.length - 2] as string);
    this.small = null;
  }

  private toSmall(): void {
    if (this.subs === null) return;
    this.small = this.subs.length === 1 ? this.subs[0]! : ([] as Pairs).concat(...this.subs);
    this.subs = null;
    this.maxes = null;
  }

  /** Joins the small sublist i with a neighbour when the two fit in one. */
  private mergeAt(i: number): void {
    const subs = this.subs!;
    const maxes = this.maxes!;
    const k = i + 1 < subs.length ? i : i - 1;
    if (k < 0) return;
    const left = subs[k]!;
    const right = subs[k + 1]!;
    if (left.length + right.length > SUBLIST_PAIRS_MAX * 2) return;
    for (const item of right) left.push(item);
    subs.splice(k + 1, 1);
    maxes.splice(k, 1);
    maxes[k] = left[left.length - 2] as string;
  }
}

/** Walks pairs in order. Valid only while the list is not changed. */
export class ChildCursor {
  name = '';
  id = -1;
  constructor(
    private readonly lists: Pairs[],
    private i: number,
    private j: number,
  ) {}

  next(): boolean {
    while (this.i < this.lists.length) {
      const pairs = this.lists[this.i]!;
      if (this.j < pairs.length) {
        this.name = pairs[this.j] as string;
        this.id = pairs[this.j + 1] as number;
        this.j += 2;
        return true;
      }
      this.i++;
      this.j = 0;
    }
    return false;
  }
}
