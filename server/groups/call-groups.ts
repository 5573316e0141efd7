/**
 * Groups concurrent calls as a database groups commits: an item that finds fewer than `maxOpen`
 * groups under way goes out at once, alone (no added wait when idle); items that come meanwhile
 * wait, and the next group takes all of them, up to `maxGroup` (counted by `weight`, 1 each by
 * default). Under load one group's work — a transaction, a statement, a Redis add — is shared by
 * many callers instead of paid by each. `handle` settles each item's caller itself and must not
 * reject.
 */
export class CallGroups<Item> {
  private readonly waiting: Item[] = [];
  private open = 0;

  constructor(
    private readonly handle: (group: Item[]) => Promise<void>,
    private readonly opts: { maxOpen: number; maxGroup: number; weight?: (item: Item) => number },
  ) {}

  add(item: Item): void {
    this.waiting.push(item);
    this.pump();
  }

  private pump(): void {
    const weight = this.opts.weight ?? (() => 1);
    while (this.open < this.opts.maxOpen && this.waiting.length > 0) {
      const group: Item[] = [];
      let size = 0;
      // The first item always goes, whatever its weight: a group is never empty.
      while (this.waiting.length > 0 && (group.length === 0 || size + weight(this.waiting[0]!) <= this.opts.maxGroup)) {
        const next = this.waiting.shift()!;
        group.push(next);
        size += weight(next);
      }
      this.open++;
      void this.handle(group).finally(() => {
        this.open--;
        this.pump();
      });
    }
  }
}
