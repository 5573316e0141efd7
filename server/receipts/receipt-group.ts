import type { IssueOutcome, ReceiptRequest } from './receipt-issuer.ts';

type IssueMany = (requests: readonly ReceiptRequest[]) => Promise<PromiseSettledResult<IssueOutcome>[]>;

interface Waiting {
  request: ReceiptRequest;
  resolve: (outcome: IssueOutcome) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group issuance of the receipts a worker cuts as its tasks finish runs, as a database groups
 * commits: a request that finds no group being issued goes out at once, alone (no added wait at
 * low load); requests that come while one is being issued wait for it and go out together in the
 * next, up to `maxGroup`. Under load a group's reads and its recording transaction are shared by
 * many executions instead of paid by each.
 */
export class ReceiptGroup {
  private waiting: Waiting[] = [];
  private issuing = false;

  constructor(
    private readonly issueMany: IssueMany,
    private readonly maxGroup = 64,
  ) {}

  issue(request: ReceiptRequest): Promise<IssueOutcome> {
    return new Promise<IssueOutcome>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (!this.issuing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.issuing = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting.splice(0, this.maxGroup);
        const results = await this.issueMany(group.map((w) => w.request)).catch((reason: unknown) => group.map((): PromiseSettledResult<IssueOutcome> => ({ status: 'rejected', reason })));
        group.forEach((w, i) => {
          const result = results[i];
          if (result?.status === 'fulfilled') w.resolve(result.value);
          else w.reject(result ? result.reason : new Error('receipt group returned no result for this request'));
        });
      }
    } finally {
      this.issuing = false;
    }
  }
}
