/**
 * What a multi needs to roll back: each mutation pushes its inverse, and resources the
 * mutation gave up (a deleted node's id, a replaced value's slot, an ACL reference) are
 * released only at commit, so that an undo can put the very same node back.
 */
export class Journal {
  private readonly undos: (() => void)[] = [];
  private readonly commits: (() => void)[] = [];

  onUndo(fn: () => void): void {
    this.undos.push(fn);
  }

  onCommit(fn: () => void): void {
    this.commits.push(fn);
  }

  commit(): void {
    for (const fn of this.commits) fn();
    this.commits.length = 0;
    this.undos.length = 0;
  }

  rollback(): void {
    for (let i = this.undos.length - 1; i >= 0; i--) this.undos[i]!();
    this.undos.length = 0;
    this.commits.length = 0;
  }
}
